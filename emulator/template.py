"""Read a WebSocket API's SAM or CloudFormation template into a :class:`~emulator.stack.Stack`.

AWS's own libraries do the parts they exist for: cfn-lint's decoder reads the YAML
(short forms such as ``!Ref`` included) or JSON, and ``aws-sam-translator`` expands
SAM (``AWS::Serverless::*``, ``Globals``) into plain CloudFormation, as ``sam
deploy`` would. This module then resolves the intrinsic functions (``Ref``,
``Fn::GetAtt``, ``Fn::Sub``, ``Fn::Join``, ``Fn::If``, …) against ``Parameters``,
pseudo parameters and the names resources get, and reads the resources the emulator
serves. docs/templates.md lists every resource type and property read, and what is
ignored. IAM resources are accepted and not enforced; any other type is reported in
one line and skipped, unless the API needs it.

Names follow CloudFormation: a resource's own name property when it has one, else
``{stack}-{LogicalId}-{SUFFIX}`` (the suffix derived from both, so a second run gives
the same names). The API's id is known only once deploy created the API, so a
reference to it is :data:`~emulator.stack.API_ID`, which deploy fills in.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from emulator.stack import (
    API_ID,
    DEFAULT_REGION,
    DEFAULT_STAGE,
    Authorizer,
    Function,
    Index,
    Route,
    Stack,
    StackError,
    Table,
    Throttle,
    variables,
)

SAM_TRANSFORM = "AWS::Serverless-2016-10-31"
_LOCAL_CODE_BUCKET = "ws-emulator-local-code"  # stands for a local CodeUri through SAM
_NO_VALUE = object()  # what Ref AWS::NoValue becomes: the property is dropped
_FUNCTION_ARN = re.compile(r"arn:[^:]+:lambda:[^:]*:[^:]*:function:(?P<name>[A-Za-z0-9_-]+)")
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")
_SCALAR_TYPES = {"String": "S", "Number": "N", "Binary": "B"}

# Read and used; IAM and permissions are accepted, not enforced.
_READ = {
    "AWS::ApiGatewayV2::Api",
    "AWS::ApiGatewayV2::Route",
    "AWS::ApiGatewayV2::RouteResponse",
    "AWS::ApiGatewayV2::Integration",
    "AWS::ApiGatewayV2::Authorizer",
    "AWS::ApiGatewayV2::Stage",
    "AWS::ApiGatewayV2::Deployment",
    "AWS::Lambda::Function",
    "AWS::DynamoDB::Table",
    "AWS::S3::Bucket",
}
_ACCEPTED = {
    "AWS::Lambda::Permission",
    "AWS::IAM::Role",
    "AWS::IAM::Policy",
    "AWS::IAM::ManagedPolicy",
    "AWS::Logs::LogGroup",
}


# The property that names a resource, where it has one.
_NAME_PROPERTIES = {
    "AWS::Lambda::Function": "FunctionName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::IAM::Role": "RoleName",
    "AWS::Logs::LogGroup": "LogGroupName",
}


class TemplateError(ValueError):
    """A template the emulator can't run; the message names the resource and the fix."""


@dataclass
class LoadedTemplate:
    """A template read into a stack, and what was left out of it."""

    stack: Stack
    skipped: list[str] = field(default_factory=list)  # one line each
    tables: dict[str, str] = field(default_factory=dict)  # logical id -> table name


def _suffix(stack_name: str, logical_id: str, length: int = 12) -> str:
    digest = hashlib.sha256(f"{stack_name}/{logical_id}".encode()).digest()
    return base64.b32encode(digest).decode()[:length]


def generated_name(stack_name: str, logical_id: str, limit: int) -> str:
    """``{stack}-{LogicalId}-{SUFFIX}``, shortened to ``limit`` as CloudFormation does."""
    suffix = _suffix(stack_name, logical_id)
    head = f"{stack_name}-{logical_id}"[: limit - len(suffix) - 1]
    return f"{head}-{suffix}"


# --- reading the file ------------------------------------------------------------


def decode(path: Path) -> dict[str, Any]:
    """The template as data, through cfn-lint's decoder (YAML short forms included)."""
    from cfnlint.decode import decode as cfn_decode

    if not path.is_file():
        raise TemplateError(f"{path}: no such template file")
    template, matches = cfn_decode(str(path))
    if matches:
        first = matches[0]
        raise TemplateError(f"{path}:{first.linenumber}: {first.message}")
    if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        raise TemplateError(f"{path}: a template needs a Resources section")
    plain: dict[str, Any] = _plain(template)
    return plain


def _plain(value: Any) -> Any:
    """cfn-lint's nodes as plain dicts, lists and strings."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def _is_sam(template: Mapping[str, Any]) -> bool:
    transform = template.get("Transform")
    transforms = transform if isinstance(transform, list) else [transform]
    return SAM_TRANSFORM in transforms


def _expand_sam(
    template: dict[str, Any], base: Path, parameters: dict[str, Any], region: str
) -> tuple[dict[str, Any], dict[str, Path]]:
    """SAM through aws-sam-translator; local ``CodeUri`` folders are carried across."""
    import boto3
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    template = copy.deepcopy(template)
    local_code: dict[str, Path] = {}
    globals_function = (template.get("Globals") or {}).get("Function") or {}
    global_code = globals_function.get("CodeUri")
    if isinstance(global_code, str) and not global_code.startswith("s3://"):
        del globals_function["CodeUri"]
    else:
        global_code = None
    for logical_id, resource in template["Resources"].items():
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::Serverless::Function":
            continue
        properties = resource.setdefault("Properties", {})
        code = properties.get("CodeUri", global_code)
        if isinstance(code, str) and not code.startswith("s3://"):
            local_code[logical_id] = (base / code).resolve()
            properties["CodeUri"] = f"s3://{_LOCAL_CODE_BUCKET}/{logical_id}"
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=region))
    try:
        expanded = translator.translate(
            template, parameter_values=dict(parameters), get_managed_policy_map=dict
        )
    except InvalidDocumentException as exc:
        causes = "; ".join(cause.message for cause in exc.causes)
        raise TemplateError(f"SAM could not expand the template: {causes}") from exc
    finally:
        translator.metrics.publish()  # to its no-op publisher; else it warns when collected
    return expanded, local_code


# --- intrinsic functions -----------------------------------------------------------


class _Resolver:
    """Evaluates intrinsic functions against parameters, conditions and resource names."""

    def __init__(
        self,
        template: Mapping[str, Any],
        parameters: Mapping[str, Any],
        names: Mapping[str, str],
        attributes: Callable[[str, str], Any],
    ) -> None:
        self._template = template
        self._parameters = parameters
        self._names = names
        self._attributes = attributes
        self._conditions: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            spec = (self._template.get("Conditions") or {}).get(name)
            if spec is None:
                raise TemplateError(f"condition {name!r} is not defined in Conditions")
            self._conditions[name] = bool(self.resolve(spec))
        return self._conditions[name]

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [v for v in (self.resolve(v) for v in value) if v is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, argument), *_ = value.items()
            method = _INTRINSICS.get(key)
            if method is not None:
                return method(self, argument)
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not _NO_VALUE}

    def ref(self, name: Any) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self._parameters:
            return self._parameters[name]
        if name in self._names:
            return self._names[name]
        raise TemplateError(f"Ref {name!r}: no parameter or resource has that name")

    def get_att(self, argument: Any) -> Any:
        if isinstance(argument, str):
            argument = argument.split(".", 1)
        logical_id, attribute = (self.resolve(a) for a in argument)
        if logical_id not in self._names:
            raise TemplateError(f"Fn::GetAtt {logical_id}.{attribute}: no such resource")
        return self._attributes(logical_id, attribute)

    def sub(self, argument: Any) -> str:
        if isinstance(argument, list):
            text, values = argument[0], self.resolve(argument[1])
        else:
            text, values = argument, {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in values:
                return str(values[name])
            if "." in name and name.split(".", 1)[0] in self._names:
                return str(self.get_att(name))
            return str(self.ref(name))

        return _SUB_VARIABLE.sub(replace, text).replace("${!", "${")

    def join(self, argument: Any) -> str:
        separator, items = argument
        return str(separator).join(str(v) for v in self.resolve(items))

    def select(self, argument: Any) -> Any:
        index, items = self.resolve(argument)
        return items[int(index)]

    def split(self, argument: Any) -> list[str]:
        separator, text = self.resolve(argument)
        return str(text).split(separator)

    def if_(self, argument: Any) -> Any:
        name, when_true, when_false = argument
        return self.resolve(when_true if self.condition(name) else when_false)

    def find_in_map(self, argument: Any) -> Any:
        map_name, top, second = self.resolve(argument)
        try:
            return self._template["Mappings"][map_name][top][second]
        except (KeyError, TypeError) as exc:
            raise TemplateError(f"Fn::FindInMap {map_name}/{top}/{second}: not found") from exc

    def equals(self, argument: Any) -> bool:
        left, right = self.resolve(argument)
        return str(left) == str(right)

    def not_(self, argument: Any) -> bool:
        return not self.resolve(argument)[0]

    def and_(self, argument: Any) -> bool:
        return all(self.resolve(argument))

    def or_(self, argument: Any) -> bool:
        return any(self.resolve(argument))

    def condition_ref(self, name: Any) -> bool:
        return self.condition(str(name))

    def base64(self, argument: Any) -> str:
        return base64.b64encode(str(self.resolve(argument)).encode()).decode()

    def get_azs(self, argument: Any) -> list[str]:
        region = self.resolve(argument) or self._parameters["AWS::Region"]
        return [f"{region}{zone}" for zone in "abc"]

    def import_value(self, argument: Any) -> Any:
        raise TemplateError(
            f"Fn::ImportValue {self.resolve(argument)!r}: other stacks' exports are not "
            "available locally; pass the value as a parameter instead"
        )


_INTRINSICS: dict[str, Callable[[_Resolver, Any], Any]] = {
    "Ref": _Resolver.ref,
    "Fn::GetAtt": _Resolver.get_att,
    "Fn::Sub": _Resolver.sub,
    "Fn::Join": _Resolver.join,
    "Fn::Select": _Resolver.select,
    "Fn::Split": _Resolver.split,
    "Fn::If": _Resolver.if_,
    "Fn::FindInMap": _Resolver.find_in_map,
    "Fn::Equals": _Resolver.equals,
    "Fn::Not": _Resolver.not_,
    "Fn::And": _Resolver.and_,
    "Fn::Or": _Resolver.or_,
    "Condition": _Resolver.condition_ref,
    "Fn::Base64": _Resolver.base64,
    "Fn::GetAZs": _Resolver.get_azs,
    "Fn::ImportValue": _Resolver.import_value,
}


# --- parameters ----------------------------------------------------------------------


def _parameters(
    template: Mapping[str, Any],
    overrides: Mapping[str, str],
    stack_name: str,
    region: str,
    account_id: str,
) -> dict[str, Any]:
    declared = template.get("Parameters") or {}
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise TemplateError(
            f"--parameter-overrides names {', '.join(unknown)}, which the template doesn't declare"
        )
    values: dict[str, Any] = {
        "AWS::Region": region,
        "AWS::AccountId": account_id,
        "AWS::StackName": stack_name,
        "AWS::StackId": f"arn:aws:cloudformation:{region}:{account_id}:stack/{stack_name}/local",
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::NotificationARNs": [],
    }
    for name, spec in declared.items():
        spec = spec or {}
        if name in overrides:
            value: Any = overrides[name]
        elif "Default" in spec:
            value = spec["Default"]
        else:
            raise TemplateError(
                f"parameter {name} has no default: pass --parameter-overrides {name}=<value>"
            )
        allowed = spec.get("AllowedValues")
        if allowed is not None and str(value) not in [str(a) for a in allowed]:
            raise TemplateError(
                f"parameter {name}={value!r} is not one of {', '.join(map(str, allowed))}"
            )
        kind = str(spec.get("Type", "String"))
        if kind == "CommaDelimitedList" or kind.startswith("List<"):
            value = value if isinstance(value, list) else [v.strip() for v in str(value).split(",")]
        elif not isinstance(value, str):
            value = str(value)
        values[name] = value
    return values


# --- the reader ------------------------------------------------------------------------


class _Reader:
    def __init__(
        self,
        template: dict[str, Any],
        parameters: dict[str, Any],
        stack_name: str,
        region: str,
        account_id: str,
        local_code: Mapping[str, Path],
        base: Path,
        inline_dir: Path,
    ) -> None:
        self.template = template
        self.stack_name = stack_name
        self.region = region
        self.account_id = account_id
        self.local_code = local_code
        self.base = base
        self.inline_dir = inline_dir
        self.skipped: list[str] = []
        self.resources: dict[str, dict[str, Any]] = {
            logical_id: resource
            for logical_id, resource in template["Resources"].items()
            if isinstance(resource, dict)
        }
        self.names = {
            logical_id: self._physical_name(logical_id, resource)
            for logical_id, resource in self.resources.items()
        }
        self.resolver = _Resolver(template, parameters, self.names, self._attribute)
        # A name property may itself be an intrinsic (!Sub "${AWS::StackName}-events").
        for logical_id, resource in self.resources.items():
            own = _NAME_PROPERTIES.get(str(resource.get("Type", "")))
            value = (resource.get("Properties") or {}).get(own) if own else None
            if isinstance(value, dict):
                self.names[logical_id] = str(self.resolver.resolve(value))

    # names and attributes --------------------------------------------------------------

    def _physical_name(self, logical_id: str, resource: Mapping[str, Any]) -> str:
        kind = resource.get("Type", "")
        properties = resource.get("Properties") or {}
        own = _NAME_PROPERTIES.get(kind)
        if own and isinstance(properties.get(own), str):
            return str(properties[own])
        if kind == "AWS::ApiGatewayV2::Api":
            return API_ID
        if kind == "AWS::ApiGatewayV2::Stage" and isinstance(properties.get("StageName"), str):
            return str(properties["StageName"])
        marker = {
            "AWS::ApiGatewayV2::Integration": "integration",
            "AWS::ApiGatewayV2::Authorizer": "authorizer",
            "AWS::ApiGatewayV2::Route": "route",
        }.get(kind)
        if marker:
            return f"{marker}:{logical_id}"
        if kind == "AWS::S3::Bucket":
            return generated_name(self.stack_name, logical_id, 63).lower()
        limit = 64 if kind == "AWS::Lambda::Function" else 255
        return generated_name(self.stack_name, logical_id, limit)

    def _attribute(self, logical_id: str, attribute: str) -> Any:
        kind = self.resources[logical_id].get("Type", "")
        name = self.names[logical_id]
        region, account = self.region, self.account_id
        if kind == "AWS::ApiGatewayV2::Api":
            if attribute == "ApiEndpoint":
                return f"wss://{API_ID}.execute-api.{region}.amazonaws.com"
            if attribute == "ApiId":
                return API_ID
        arns = {
            "AWS::Lambda::Function": f"arn:aws:lambda:{region}:{account}:function:{name}",
            "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{region}:{account}:table/{name}",
            "AWS::S3::Bucket": f"arn:aws:s3:::{name}",
            "AWS::IAM::Role": f"arn:aws:iam::{account}:role/{name}",
            "AWS::Logs::LogGroup": f"arn:aws:logs:{region}:{account}:log-group:{name}:*",
        }
        if attribute == "Arn" and kind in arns:
            return arns[kind]
        if kind == "AWS::DynamoDB::Table" and attribute == "StreamArn":
            return f"{arns[kind]}/stream/local"
        if kind == "AWS::S3::Bucket" and attribute in ("DomainName", "RegionalDomainName"):
            return f"{name}.s3.{region}.amazonaws.com"
        if kind == "AWS::IAM::Role" and attribute == "RoleId":
            return f"AROA{_suffix(self.stack_name, logical_id, 17)}"
        # A resource the emulator doesn't create: a stand-in, reported where it is used.
        return f"arn:aws:{kind.split('::')[1].lower() if '::' in kind else 'unknown'}:{name}"

    # resources -----------------------------------------------------------------------

    def properties(self, logical_id: str) -> dict[str, Any]:
        resolved = self.resolver.resolve(self.resources[logical_id].get("Properties") or {})
        return dict(resolved)

    def included(self, logical_id: str) -> bool:
        condition = self.resources[logical_id].get("Condition")
        return condition is None or self.resolver.condition(str(condition))

    def of_type(self, kind: str) -> list[str]:
        return [
            logical_id
            for logical_id, resource in self.resources.items()
            if resource.get("Type") == kind and self.included(logical_id)
        ]

    def read(self, stage: str | None, api_logical_id: str | None) -> Stack:
        for logical_id, resource in self.resources.items():
            kind = str(resource.get("Type", ""))
            if kind not in _READ and kind not in _ACCEPTED and self.included(logical_id):
                self.skipped.append(f"{logical_id} ({kind}): not emulated, skipped")
        api_id = self._api(api_logical_id)
        api = self.properties(api_id)
        functions = {
            logical_id: self._function(logical_id)
            for logical_id in self.of_type("AWS::Lambda::Function")
        }
        integrations = {
            logical_id: self._integration(logical_id, functions)
            for logical_id in self.of_type("AWS::ApiGatewayV2::Integration")
            if self._belongs(logical_id, api_id)
        }
        two_way = {
            str(props.get("RouteId", "")).removeprefix("route:")
            for props in map(self.properties, self.of_type("AWS::ApiGatewayV2::RouteResponse"))
            if props.get("RouteResponseKey") == "$default"
        }
        routes: dict[str, list[Route]] = {}
        authorizer_id: str | None = None
        for logical_id in self.of_type("AWS::ApiGatewayV2::Route"):
            if not self._belongs(logical_id, api_id):
                continue
            props = self.properties(logical_id)
            key = str(props.get("RouteKey", ""))
            target = str(props.get("Target", ""))
            match = re.fullmatch(r"integrations/integration:(?P<id>\w+)", target)
            if match is None or match["id"] not in integrations:
                raise TemplateError(
                    f"route {key!r} ({logical_id}): Target must be integrations/ followed by "
                    "a Ref to an AWS::ApiGatewayV2::Integration of the template"
                )
            function_id, content_handling = integrations[match["id"]]
            routes.setdefault(function_id, []).append(
                Route(key, logical_id in two_way, content_handling)
            )
            if props.get("AuthorizationType") == "CUSTOM":
                if key != "$connect":
                    raise TemplateError(f"route {key!r}: an authorizer can only be on $connect")
                authorizer_id = str(props.get("AuthorizerId", "")).removeprefix("authorizer:")
            elif props.get("AuthorizationType") == "AWS_IAM":
                self.skipped.append(f"route {key!r}: AWS_IAM authorization is not enforced")
        authorizer = self._authorizer(authorizer_id, functions) if authorizer_id else None
        stage_name, stage_props = self._stage(api_id, stage)
        route_settings = stage_props.get("RouteSettings") or {}
        for function_routes in routes.values():
            function_routes[:] = [
                replace(r, throttle=_throttle(route_settings.get(r.key))) for r in function_routes
            ]
        served = [
            replace(function, routes=tuple(routes.get(logical_id, ())))
            for logical_id, function in functions.items()
            if authorizer is None or function is not authorizer.function
        ]
        return Stack(
            name=self.stack_name,
            functions=tuple(served),
            tables=tuple(self._table(t) for t in self.of_type("AWS::DynamoDB::Table")),
            stage=stage_name,
            throttle=_throttle(stage_props.get("DefaultRouteSettings")),
            region=self.region,
            authorizer=authorizer,
            buckets=tuple(self.names[b] for b in self.of_type("AWS::S3::Bucket")),
            route_selection_expression=str(
                api.get("RouteSelectionExpression", "$request.body.action")
            ),
            api_title=str(api.get("Name") or f"{self.stack_name}-{api_id}"),
        )

    def _api(self, wanted: str | None) -> str:
        apis = [
            logical_id
            for logical_id in self.of_type("AWS::ApiGatewayV2::Api")
            if self.properties(logical_id).get("ProtocolType") == "WEBSOCKET"
        ]
        for other in self.of_type("AWS::ApiGatewayV2::Api"):
            if other not in apis:
                self.skipped.append(f"{other}: only WebSocket APIs are served, skipped")
        if wanted is not None:
            if wanted not in apis:
                raise TemplateError(f"--api {wanted}: the template has no WebSocket API by that id")
            return wanted
        if not apis:
            raise TemplateError(
                "the template has no WebSocket API (AWS::ApiGatewayV2::Api with "
                "ProtocolType WEBSOCKET, or AWS::Serverless::WebSocketApi)"
            )
        if len(apis) > 1:
            raise TemplateError(
                f"the template has {len(apis)} WebSocket APIs ({', '.join(apis)}): choose one "
                "with --api"
            )
        return apis[0]

    def _belongs(self, logical_id: str, api_id: str) -> bool:
        return self.properties(logical_id).get("ApiId") == API_ID and self._refers_to(
            logical_id, api_id
        )

    def _refers_to(self, logical_id: str, api_id: str) -> bool:
        """Whether a resource's raw ApiId is a reference to this API (not another one)."""
        raw = (self.resources[logical_id].get("Properties") or {}).get("ApiId")
        if isinstance(raw, dict) and "Ref" in raw:
            return bool(raw["Ref"] == api_id)
        if isinstance(raw, dict) and "Fn::GetAtt" in raw:
            target = raw["Fn::GetAtt"]
            return bool((target.split(".")[0] if isinstance(target, str) else target[0]) == api_id)
        return True

    def _stage(self, api_id: str, wanted: str | None) -> tuple[str, dict[str, Any]]:
        """The stage served, and its properties (empty when the template has none)."""
        stages = {
            str(props.get("StageName")): props
            for logical_id in self.of_type("AWS::ApiGatewayV2::Stage")
            if self._belongs(logical_id, api_id)
            for props in [self.properties(logical_id)]
        }
        names = ", ".join(stages)
        if wanted is not None:
            if stages and wanted not in stages:
                raise TemplateError(f"--stage {wanted}: the API's stages are {names}")
            return wanted, stages.get(wanted, {})
        if len(stages) > 1:
            raise TemplateError(f"the API has stages {names}: choose one with --stage")
        return next(iter(stages.items()), (DEFAULT_STAGE, {}))

    def _integration(
        self, logical_id: str, functions: Mapping[str, Function]
    ) -> tuple[str, str | None]:
        props = self.properties(logical_id)
        kind = props.get("IntegrationType")
        if kind != "AWS_PROXY":
            raise TemplateError(
                f"integration {logical_id}: type {kind}; the emulator serves Lambda proxy "
                "integrations (IntegrationType AWS_PROXY)"
            )
        function_id = self._function_of(str(props.get("IntegrationUri", "")), functions)
        if function_id is None:
            raise TemplateError(
                f"integration {logical_id}: IntegrationUri must name a Lambda function of the "
                "template (…/functions/${Function.Arn}/invocations)"
            )
        handling = props.get("ContentHandlingStrategy")
        return function_id, str(handling) if handling else None

    def _function_of(self, uri: str, functions: Mapping[str, Function]) -> str | None:
        match = _FUNCTION_ARN.search(uri)
        if match is None:
            return None
        by_name = {self.names[logical_id]: logical_id for logical_id in functions}
        return by_name.get(match["name"])

    def _authorizer(self, logical_id: str, functions: Mapping[str, Function]) -> Authorizer:
        if logical_id not in self.resources:
            raise TemplateError(f"the $connect route's AuthorizerId {logical_id!r} is unknown")
        props = self.properties(logical_id)
        if props.get("AuthorizerType") != "REQUEST":
            raise TemplateError(f"authorizer {logical_id}: WebSocket APIs take REQUEST authorizers")
        function_id = self._function_of(str(props.get("AuthorizerUri", "")), functions)
        if function_id is None:
            raise TemplateError(
                f"authorizer {logical_id}: AuthorizerUri must name a Lambda function of the "
                "template"
            )
        sources = props.get("IdentitySource") or []
        return Authorizer(
            name=str(props.get("Name") or logical_id),
            function=functions[function_id],
            identity_sources=tuple(str(s) for s in sources),
        )

    def _function(self, logical_id: str) -> Function:
        props = self.properties(logical_id)
        what = f"function {logical_id}"
        code = self._code(logical_id, props.get("Code") or {})
        environment = (props.get("Environment") or {}).get("Variables") or {}
        if props.get("Layers"):
            self.skipped.append(f"{what}: Layers are not added to its code")
        try:
            return Function(
                name=logical_id,
                handler=str(props.get("Handler", "")),
                timeout=int(props.get("Timeout", 3)),
                memory=int(props.get("MemorySize", 128)),
                environment=variables({str(k): _text(v) for k, v in environment.items()}),
                code=code,
                runtime=str(props.get("Runtime", "")),
                function_name=self.names[logical_id],
            )
        except (TypeError, ValueError) as exc:
            raise TemplateError(f"{what}: {exc}") from exc

    def _code(self, logical_id: str, code: Any) -> Path:
        if logical_id in self.local_code:
            return self.local_code[logical_id]
        if isinstance(code, str) and not code.startswith("s3://"):
            # A local folder, as `aws cloudformation package` takes it.
            folder = (self.base / code).resolve()
            if not folder.is_dir():
                raise TemplateError(f"function {logical_id}: Code folder {folder} does not exist")
            return folder
        if not isinstance(code, Mapping):
            raise TemplateError(
                f"function {logical_id}: Code {code!r} must be a local folder or ZipFile"
            )
        if "ZipFile" in code:
            directory = self.inline_dir / logical_id
            directory.mkdir(parents=True, exist_ok=True)
            (directory / "index.py").write_text(str(code["ZipFile"]))
            return directory
        if isinstance(code.get("S3Bucket"), str) and code["S3Bucket"] != _LOCAL_CODE_BUCKET:
            raise TemplateError(
                f"function {logical_id}: its code is in S3 (s3://{code['S3Bucket']}/"
                f"{code.get('S3Key')}); give it a local CodeUri folder instead"
            )
        raise TemplateError(
            f"function {logical_id} has no code: give it CodeUri (SAM) or Code.ZipFile"
        )

    def _table(self, logical_id: str) -> Table:
        props = self.properties(logical_id)
        what = f"table {logical_id}"
        types = {
            str(a["AttributeName"]): str(a["AttributeType"])
            for a in props.get("AttributeDefinitions") or []
        }

        def keys(schema: Any, owner: str) -> tuple[str, str | None]:
            by_type = {str(k.get("KeyType")): str(k.get("AttributeName")) for k in schema or []}
            if "HASH" not in by_type:
                raise TemplateError(f"{owner}: KeySchema needs a HASH key")
            return by_type["HASH"], by_type.get("RANGE")

        def index(spec: Mapping[str, Any], local: bool) -> Index:
            hash_key, range_key = keys(
                spec.get("KeySchema"), f"{what} index {spec.get('IndexName')}"
            )
            projection = spec.get("Projection") or {}
            return Index(
                name=str(spec.get("IndexName")),
                hash_key=hash_key,
                range_key=range_key,
                local=local,
                projection=str(projection.get("ProjectionType", "ALL")),
                non_key_attributes=tuple(projection.get("NonKeyAttributes") or ()),
            )

        hash_key, range_key = keys(props.get("KeySchema"), what)
        indexes = tuple(index(s, False) for s in props.get("GlobalSecondaryIndexes") or []) + tuple(
            index(s, True) for s in props.get("LocalSecondaryIndexes") or []
        )
        ttl = props.get("TimeToLiveSpecification") or {}
        table = Table(
            name=self.names[logical_id],
            hash_key=hash_key,
            range_key=range_key,
            indexes=indexes,
            ttl_attribute=str(ttl["AttributeName"]) if ttl.get("Enabled") else None,
        )
        missing = [k for k in table.key_attributes if k not in types]
        if missing:
            raise TemplateError(
                f"{what}: AttributeDefinitions lacks the key attribute(s) {', '.join(missing)}"
            )
        key_types = tuple((k, types[k]) for k in table.key_attributes if types[k] != "S")
        if props.get("StreamSpecification"):
            self.skipped.append(f"{what}: streams are not emulated")
        return replace(table, key_types=key_types)


def _throttle(settings: Any) -> Throttle | None:
    """Throttling from a stage's route settings, when both limits are given."""
    try:
        return Throttle.from_settings(settings)
    except (TypeError, ValueError) as exc:
        raise TemplateError(f"throttling {settings}: burst and rate must be numbers") from exc


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def default_stack_name(path: Path) -> str:
    """A stack name from the template's folder, as a user would call the stack."""
    name = re.sub(r"[^A-Za-z0-9-]+", "-", path.resolve().parent.name).strip("-")
    return (name if name and name[0].isalpha() else f"stack-{name}")[:64] or "stack"


def load(
    path: Path,
    *,
    parameters: Mapping[str, str] | None = None,
    stage: str | None = None,
    region: str = DEFAULT_REGION,
    account_id: str = "123456789012",
    stack_name: str | None = None,
    api: str | None = None,
    work_dir: Path,
) -> LoadedTemplate:
    """Read a template into a stack; ``work_dir`` receives inline (``ZipFile``) code."""
    template = decode(path)
    stack_name = stack_name or default_stack_name(path)
    values = _parameters(template, parameters or {}, stack_name, region, account_id)
    local_code: dict[str, Path] = {}
    if _is_sam(template):
        declared = set(template.get("Parameters") or {})
        template, local_code = _expand_sam(
            template,
            path.resolve().parent,
            {k: v for k, v in values.items() if k in declared or k.startswith("AWS::")},
            region,
        )
    reader = _Reader(
        template,
        values,
        stack_name,
        region,
        account_id,
        local_code,
        path.resolve().parent,
        work_dir / "inline",
    )
    try:
        stack = reader.read(stage, api)
    except StackError as exc:
        raise TemplateError(str(exc)) from exc
    tables = {
        logical_id: stack.table_name(table)
        for logical_id in reader.of_type("AWS::DynamoDB::Table")
        for table in stack.tables
        if table.name == reader.names[logical_id]
    }
    return LoadedTemplate(stack=stack, skipped=reader.skipped, tables=tables)
