"""Read a WebSocket API's SAM or CloudFormation template into a :class:`~emulator.stack.Stack`.

The template is a file, or a CDK cloud assembly (``cdk.out``) whose stack is chosen by
:mod:`emulator.assembly`. :mod:`emulator.template_file` decodes it and expands SAM,
:mod:`emulator.intrinsics` resolves ``Ref``, ``Fn::Sub`` and the rest, and this module
reads the resources the emulator serves: the WebSocket API, its routes, integrations,
authorizer and stage, functions (their code found by :mod:`emulator.function_code`),
tables (:mod:`emulator.template_tables`) and buckets. docs/templates.md lists every
resource type and property read, and what is ignored. IAM resources are accepted and not
enforced; custom resources (and the functions that only provide them) are reported in
one line each and skipped, as is any other type, unless the API needs it. Resources'
names and attributes are :mod:`emulator.template_resources`'.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from emulator import assembly
from emulator.function_code import CodeError, locate
from emulator.intrinsics import parameters as parameters_of
from emulator.stack import (
    API_ID,
    DEFAULT_REGION,
    DEFAULT_STAGE,
    Authorizer,
    Function,
    Route,
    Stack,
    StackError,
    Table,
    Throttle,
    variables,
)
from emulator.template_file import TemplateError, decode, expand_sam, is_sam
from emulator.template_resources import Resources, generated_name
from emulator.template_tables import TABLE_TYPES, read_table

__all__ = ["LoadedTemplate", "TemplateError", "default_stack_name", "generated_name", "load"]

_CUSTOM_RESOURCE = "AWS::CloudFormation::CustomResource"

# Read and used.
_READ = {
    "AWS::ApiGatewayV2::Api",
    "AWS::ApiGatewayV2::Route",
    "AWS::ApiGatewayV2::RouteResponse",
    "AWS::ApiGatewayV2::Integration",
    "AWS::ApiGatewayV2::Authorizer",
    "AWS::ApiGatewayV2::Stage",
    "AWS::ApiGatewayV2::Deployment",
    "AWS::Lambda::Function",
    "AWS::S3::Bucket",
    *TABLE_TYPES,
}
# Accepted silently: access control (not enforced), versions (functions run $LATEST),
# log groups, and CDK's record of the libraries it used.
_ACCEPTED = {
    "AWS::Lambda::Permission",
    "AWS::Lambda::Version",
    "AWS::IAM::Role",
    "AWS::IAM::Policy",
    "AWS::IAM::ManagedPolicy",
    "AWS::S3::BucketPolicy",
    "AWS::Logs::LogGroup",
    "AWS::CDK::Metadata",
}


@dataclass
class LoadedTemplate:
    """A template read into a stack, and what was left out of it."""

    stack: Stack
    skipped: list[str] = field(default_factory=list)  # one line each
    tables: dict[str, str] = field(default_factory=dict)  # logical id -> table name
    sources: list[Path] = field(default_factory=list)  # the files read: template, zips


def _is_custom(kind: str) -> bool:
    return kind.startswith("Custom::") or kind == _CUSTOM_RESOURCE


class _Reader(Resources):
    """Reads the WebSocket API and what it uses into a Stack; notes what it leaves out."""

    def __init__(
        self,
        template: dict[str, Any],
        values: dict[str, Any],
        stack_name: str,
        region: str,
        account_id: str,
        local_code: Mapping[str, Path],
        base: Path,
        work_dir: Path,
        built: bool,
    ) -> None:
        super().__init__(template, values, stack_name, region, account_id)
        self.local_code = local_code
        self.base = base
        self.work_dir = work_dir
        self.built = built
        self.skipped: list[str] = []
        self.archives: list[Path] = []  # the zips functions were unpacked from

    def read(self, stage: str | None, api_logical_id: str | None) -> Stack:
        for logical_id, resource in self.resources.items():
            kind = str(resource.get("Type", ""))
            known = kind in _READ or kind in _ACCEPTED or _is_custom(kind)
            if not known and self.included(logical_id):
                self.skipped.append(f"{logical_id} ({kind}): not emulated, skipped")
        providers = self._custom_resources()
        api_id = self._api(api_logical_id)
        api = self.properties(api_id)
        integrations = {
            logical_id: self._integration(logical_id)
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
        authorizer = self._authorizer(authorizer_id) if authorizer_id else None
        used = {function_id for function_id, _ in integrations.values()}
        used |= {authorizer[2]} if authorizer else set()
        functions: dict[str, Function] = {}
        for logical_id in self.of_type("AWS::Lambda::Function"):
            if logical_id in providers and logical_id not in used:
                self.skipped.append(
                    f"{logical_id} (AWS::Lambda::Function): the provider of custom resource(s) "
                    f"{', '.join(providers[logical_id])}, not deployed"
                )
            else:
                functions[logical_id] = self._function(logical_id)
        stage_name, stage_props = self._stage(api_id, stage)
        route_settings = stage_props.get("RouteSettings") or {}
        served = [
            replace(
                function,
                routes=tuple(
                    replace(r, throttle=_throttle(route_settings.get(r.key)))
                    for r in routes.get(logical_id, ())
                ),
            )
            for logical_id, function in functions.items()
            if authorizer is None or logical_id != authorizer[2]
        ]
        return Stack(
            name=self.stack_name,
            functions=tuple(served),
            tables=tuple(self._table(t) for t in self.of_type(*TABLE_TYPES)),
            stage=stage_name,
            throttle=_throttle(stage_props.get("DefaultRouteSettings")),
            region=self.region,
            authorizer=(
                Authorizer(authorizer[0], functions[authorizer[2]], authorizer[1])
                if authorizer
                else None
            ),
            buckets=tuple(self.names[b] for b in self.of_type("AWS::S3::Bucket")),
            route_selection_expression=str(
                api.get("RouteSelectionExpression", "$request.body.action")
            ),
            api_title=str(api.get("Name") or f"{self.stack_name}-{api_id}"),
        )

    def _custom_resources(self) -> dict[str, list[str]]:
        """Each custom resource in one line; the functions that provide them, and to which."""
        providers: dict[str, list[str]] = {}
        for logical_id, resource in self.resources.items():
            kind = str(resource.get("Type", ""))
            if not _is_custom(kind) or not self.included(logical_id):
                continue
            token = (resource.get("Properties") or {}).get("ServiceToken")
            try:
                provider = self.function_of(str(self.resolver.resolve(token) or ""))
            except TemplateError:  # a token the emulator can't resolve: no provider here
                provider = None
            if provider is not None:
                providers.setdefault(provider, []).append(logical_id)
            self.skipped.append(
                f"{logical_id} ({kind}): a custom resource; its provider is not run locally, "
                "skipped"
            )
        return providers

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

    def _integration(self, logical_id: str) -> tuple[str, str | None]:
        """The function an integration invokes (logical id), and its content handling."""
        props = self.properties(logical_id)
        kind = props.get("IntegrationType")
        if kind != "AWS_PROXY":
            raise TemplateError(
                f"integration {logical_id}: type {kind}; the emulator serves Lambda proxy "
                "integrations (IntegrationType AWS_PROXY)"
            )
        function_id = self.function_of(str(props.get("IntegrationUri", "")))
        if function_id is None:
            raise TemplateError(
                f"integration {logical_id}: IntegrationUri must name a Lambda function of the "
                "template (…/functions/${Function.Arn}/invocations)"
            )
        handling = props.get("ContentHandlingStrategy")
        return function_id, str(handling) if handling else None

    def _authorizer(self, logical_id: str) -> tuple[str, tuple[str, ...], str]:
        """The authorizer's name, its identity sources and its function's logical id."""
        if logical_id not in self.resources:
            raise TemplateError(f"the $connect route's AuthorizerId {logical_id!r} is unknown")
        props = self.properties(logical_id)
        if props.get("AuthorizerType") != "REQUEST":
            raise TemplateError(f"authorizer {logical_id}: WebSocket APIs take REQUEST authorizers")
        function_id = self.function_of(str(props.get("AuthorizerUri", "")))
        if function_id is None:
            raise TemplateError(
                f"authorizer {logical_id}: AuthorizerUri must name a Lambda function of the "
                "template"
            )
        sources = tuple(str(s) for s in props.get("IdentitySource") or [])
        return str(props.get("Name") or logical_id), sources, function_id

    def _function(self, logical_id: str) -> Function:
        props = self.properties(logical_id)
        what = f"function {logical_id}"
        try:
            code = locate(
                props.get("Code"),
                self.resources[logical_id].get("Metadata") or {},
                base=self.base,
                unpack_dir=self.work_dir,
                local=self.local_code.get(logical_id),
                image=props.get("PackageType") == "Image",
                built=self.built,
            )
        except CodeError as exc:
            raise TemplateError(f"{what}: {exc}") from exc
        if code.archive is not None:
            self.archives.append(code.archive)
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
                code=code.folder,
                packaged=code.packaged,
                runtime=str(props.get("Runtime", "")),
                function_name=self.names[logical_id],
            )
        except (TypeError, ValueError) as exc:
            raise TemplateError(f"{what}: {exc}") from exc

    def _table(self, logical_id: str) -> Table:
        return read_table(
            logical_id,
            self.properties(logical_id),
            self.names[logical_id],
            self.region,
            self.skipped,
        )


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
    """A stack name from the template's folder (or a cloud assembly's), as a user would call it."""
    folder = path.resolve().parent if path.is_file() or not path.exists() else path.resolve()
    if assembly.is_assembly(folder):
        folder = folder.parent
    name = re.sub(r"[^A-Za-z0-9-]+", "-", folder.name).strip("-")
    return (name if name and name[0].isalpha() else f"stack-{name}")[:64] or "stack"


def _built_by_sam(template: Mapping[str, Any], path: Path) -> bool:
    """Whether ``sam build`` wrote the template (its functions' folders hold their dependencies)."""
    if path.resolve().parent.match(".aws-sam/build"):
        return True
    return any(
        isinstance(resource, dict) and "SamResourceId" in (resource.get("Metadata") or {})
        for resource in template["Resources"].values()
    )


def load(
    path: Path,
    *,
    parameters: Mapping[str, str] | None = None,
    stage: str | None = None,
    region: str = DEFAULT_REGION,
    account_id: str = "123456789012",
    stack_name: str | None = None,
    api: str | None = None,
    stack: str | None = None,
    work_dir: Path,
) -> LoadedTemplate:
    """Read a template into a stack; ``work_dir`` receives unpacked and inline code.

    ``path`` is a template file or a cloud assembly (``cdk.out``), whose stack is
    ``stack`` (or the only one with a WebSocket API).
    """
    if assembly.is_assembly(path):
        chosen = assembly.choose(path, stack)
        path, stack_name = chosen.template, stack_name or chosen.stack_name
    elif path.is_dir():
        raise TemplateError(
            f"{path} is a folder: give a template file, or a CDK cloud assembly (a folder with "
            "manifest.json, as `cdk synth` writes cdk.out)"
        )
    elif stack is not None:
        raise TemplateError(
            f"--stack {stack}: it chooses a stack of a CDK cloud assembly (cdk.out), and "
            f"{path.name} is a template"
        )
    template = decode(path)
    stack_name = stack_name or default_stack_name(path)
    values = parameters_of(template, parameters or {}, stack_name, region, account_id)
    built = _built_by_sam(template, path)
    local_code: dict[str, Path] = {}
    if is_sam(template):
        declared = set(template.get("Parameters") or {})
        template, local_code = expand_sam(
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
        work_dir,
        built,
    )
    try:
        read = reader.read(stage, api)
    except StackError as exc:
        raise TemplateError(str(exc)) from exc
    tables = {
        logical_id: read.table_name(table)
        for logical_id in reader.of_type(*TABLE_TYPES)
        for table in read.tables
        if table.name == reader.names[logical_id]
    }
    sources = [path.resolve(), *dict.fromkeys(reader.archives)]
    return LoadedTemplate(stack=read, skipped=reader.skipped, tables=tables, sources=sources)
