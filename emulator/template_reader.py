"""A template's resources read into a :class:`~emulator.stack.Stack`: the WebSocket API
and what it uses.

The API (``--api`` when there are several), its routes, integrations, authorizer and
stage; the functions (their code found by :mod:`emulator.function_code`), tables
(:mod:`emulator.template_tables`) and buckets. IAM resources are accepted and not
enforced; custom resources, and the functions that only provide them, are reported in
one line each and skipped, as is any other type, unless the API needs it.
docs/templates.md lists every resource type and property read, and what is ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

from emulator.function_code import CodeError, locate
from emulator.stack import (
    API_ID,
    DEFAULT_STAGE,
    Authorizer,
    Function,
    Route,
    Stack,
    Table,
    Throttle,
    variables,
)
from emulator.template_file import TemplateError
from emulator.template_resources import Resources
from emulator.template_tables import TABLE_TYPES, read_table

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


class _AuthorizerSpec(NamedTuple):
    """An authorizer as the template declares it, before its function is read."""

    name: str
    sources: tuple[str, ...]
    function_id: str


def _is_custom(kind: str) -> bool:
    return kind.startswith("Custom::") or kind == _CUSTOM_RESOURCE


class Reader(Resources):
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
        routes, authorizer_id = self._routes(api_id, integrations)
        authorizer = self._authorizer(authorizer_id) if authorizer_id else None
        used = {function_id for function_id, _ in integrations.values()}
        used |= {authorizer.function_id} if authorizer else set()
        left_out = self._left_out(providers, used)
        functions: dict[str, Function] = {}
        for logical_id in self.of_type("AWS::Lambda::Function"):
            if logical_id in left_out:
                self.skipped.append(f"{logical_id} (AWS::Lambda::Function): {left_out[logical_id]}")
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
            if authorizer is None or logical_id != authorizer.function_id
        ]
        return Stack(
            name=self.stack_name,
            functions=tuple(served),
            tables=tuple(self._table(t) for t in self.of_type(*TABLE_TYPES)),
            stage=stage_name,
            throttle=_throttle(stage_props.get("DefaultRouteSettings")),
            region=self.region,
            authorizer=(
                Authorizer(authorizer.name, functions[authorizer.function_id], authorizer.sources)
                if authorizer
                else None
            ),
            buckets=tuple(self.names[b] for b in self.of_type("AWS::S3::Bucket")),
            route_selection_expression=str(
                api.get("RouteSelectionExpression", "$request.body.action")
            ),
            api_title=str(api.get("Name") or f"{self.stack_name}-{api_id}"),
        )

    def _left_out(self, providers: Mapping[str, list[str]], used: set[str]) -> dict[str, str]:
        """The functions not deployed, and why: custom resources' providers, and the
        functions only they refer to (CDK's provider framework calls your onEvent
        function), unless the API uses them."""
        left_out = {
            provider: f"the provider of custom resource(s) {', '.join(resources)}, not deployed"
            for provider, resources in providers.items()
            if provider not in used
        }
        functions = self.of_type("AWS::Lambda::Function")
        named = {g: self.references(g) for g in functions}
        referrers = {f: [g for g in functions if f in named[g]] for f in functions}
        changed = True
        while changed:
            changed = False
            for function in functions:
                callers = referrers[function]
                if function in left_out or function in used or not callers:
                    continue
                if all(caller in left_out for caller in callers):
                    left_out[function] = f"named only by {', '.join(callers)}, not deployed either"
                    changed = True
        return left_out

    def _routes(
        self, api_id: str, integrations: Mapping[str, tuple[str, str | None]]
    ) -> tuple[dict[str, list[Route]], str | None]:
        """The API's routes by the function serving them, and the $connect authorizer's id."""
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
        return routes, authorizer_id

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

    def _authorizer(self, logical_id: str) -> _AuthorizerSpec:
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
        return _AuthorizerSpec(str(props.get("Name") or logical_id), sources, function_id)

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
                runtime=str(props.get("Runtime", "")),
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
