"""What the gateway serves, read from what deploy created in the emulated control plane.

Routes come from the API's routes, integrations, route responses and authorizers;
functions from Lambda's configuration (handler, environment, timeout, memory); code
from the zips deploy uploaded — each checked against its function's ``CodeSha256``
so a stale package is refused instead of silently run.
"""

from __future__ import annotations

import base64
import hashlib
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator.runner import FunctionSpec
from emulator.stack import DEFAULT_RUNTIME, Throttle

_FUNCTION_IN_URI = re.compile(r"functions/(?P<arn>arn:[^/]+)/invocations")


class ApiError(Exception):
    """The deployed API can't be served as it stands; the message says what to do."""


@dataclass(frozen=True)
class Route:
    key: str
    function: str
    two_way: bool = False  # has a route response: the handler's body goes back
    content_handling: str | None = None  # the integration's ContentHandlingStrategy
    throttle: Throttle | None = None  # the stage's limits for this route, if any


@dataclass(frozen=True)
class AuthorizerConfig:
    """A Lambda REQUEST authorizer on ``$connect``."""

    function: str
    identity_sources: tuple[str, ...]


@dataclass(frozen=True)
class ApiConfig:
    api_id: str
    stage: str
    route_selection_expression: str
    routes: dict[str, Route]
    functions: dict[str, FunctionSpec]
    authorizer: AuthorizerConfig | None = None


class _Functions:
    """Looks functions up once each and unpacks each package once."""

    def __init__(self, awslambda: Any, packages: Mapping[str, Path], code_root: Path) -> None:
        self._lambda = awslambda
        self._packages = packages
        self._code_root = code_root
        self.specs: dict[str, FunctionSpec] = {}

    def from_uri(self, uri: str, what: str) -> str:
        match = _FUNCTION_IN_URI.search(uri or "")
        if match is None:
            raise ApiError(f"{what} has no Lambda integration")
        configuration = self._lambda.get_function_configuration(FunctionName=match["arn"])
        name = str(configuration["FunctionName"])
        if name not in self.specs:
            self.specs[name] = self._spec(name, configuration)
        return name

    def _spec(self, name: str, configuration: Mapping[str, Any]) -> FunctionSpec:
        package = self._packages.get(name)
        if package is None:
            raise ApiError(f"no package for function {name}; run deploy again")
        data = Path(package).read_bytes()
        sha256 = base64.b64encode(hashlib.sha256(data).digest()).decode()
        if configuration.get("CodeSha256") != sha256:
            raise ApiError(
                f"function {name} was deployed from another package than {package}; "
                "run deploy again"
            )
        code_dir = self._code_root / sha256.replace("/", "_").rstrip("=")
        if not code_dir.exists():
            _unpack(Path(package), code_dir)
        return FunctionSpec(
            name=name,
            arn=configuration["FunctionArn"],
            handler=configuration["Handler"],
            code_dir=code_dir,
            timeout=int(configuration.get("Timeout", 3)),
            memory=int(configuration.get("MemorySize", 128)),
            environment=(configuration.get("Environment") or {}).get("Variables", {}),
            runtime=str(configuration.get("Runtime") or DEFAULT_RUNTIME),
        )


def _unpack(package: Path, code_dir: Path) -> None:
    """Unzip a package as Lambda does, file modes included (a custom runtime's
    ``bootstrap`` must stay executable)."""
    with zipfile.ZipFile(package) as archive:
        archive.extractall(code_dir)
        for info in archive.infolist():
            mode = (info.external_attr >> 16) & 0o777
            if mode & 0o111 and not info.is_dir():
                (code_dir / info.filename).chmod(mode)


def load_api(
    apigw: Any,
    awslambda: Any,
    api_id: str,
    stage: str,
    packages: Mapping[str, Path],
    code_root: Path,
) -> ApiConfig:
    """Read the API's routes and their functions; unpack the packages they run."""
    api = apigw.get_api(ApiId=api_id)
    stages = {s["StageName"]: s for s in apigw.get_stages(ApiId=api_id).get("Items", [])}
    if stage not in stages:
        raise ApiError(f"API {api_id} has no stage {stage!r}; run deploy again")
    default_throttle = Throttle.from_settings(stages[stage].get("DefaultRouteSettings"))
    route_settings = stages[stage].get("RouteSettings") or {}
    integrations = {
        i["IntegrationId"]: i
        for page in apigw.get_paginator("get_integrations").paginate(ApiId=api_id)
        for i in page.get("Items", [])
    }
    functions = _Functions(awslambda, packages, code_root)
    routes: dict[str, Route] = {}
    authorizer: AuthorizerConfig | None = None
    for page in apigw.get_paginator("get_routes").paginate(ApiId=api_id):
        for route in page.get("Items", []):
            key = route["RouteKey"]
            integration = integrations.get(route.get("Target", "").removeprefix("integrations/"))
            function = functions.from_uri((integration or {}).get("IntegrationUri", ""), key)
            # Two-way: deploy sets the selection expression with the $default route
            # response (moto can't list route responses, so the expression decides).
            two_way = bool(route.get("RouteResponseSelectionExpression"))
            routes[key] = Route(
                key,
                function,
                two_way,
                (integration or {}).get("ContentHandlingStrategy"),
                Throttle.from_settings(route_settings.get(key)) or default_throttle,
            )
            if key == "$connect" and route.get("AuthorizationType") == "CUSTOM":
                spec = apigw.get_authorizer(ApiId=api_id, AuthorizerId=route["AuthorizerId"])
                authorizer = AuthorizerConfig(
                    function=functions.from_uri(spec.get("AuthorizerUri", ""), "the authorizer"),
                    identity_sources=tuple(spec.get("IdentitySource") or ()),
                )
    return ApiConfig(
        api_id=api_id,
        stage=stage,
        route_selection_expression=api.get("RouteSelectionExpression", "$request.body.action"),
        routes=routes,
        functions=functions.specs,
        authorizer=authorizer,
    )
