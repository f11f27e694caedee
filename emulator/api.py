"""What the gateway serves, read from what deploy created in the emulated control plane.

Routes come from the API's routes and integrations, functions from Lambda's
configuration (handler, environment, timeout, memory), code from the zip deploy
uploaded — checked against the function's ``CodeSha256`` so a stale package is
refused instead of silently run.
"""

from __future__ import annotations

import base64
import hashlib
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator.runner import FunctionSpec

_FUNCTION_IN_URI = re.compile(r"functions/(?P<arn>arn:[^/]+)/invocations")


class ApiError(Exception):
    """The deployed API can't be served as it stands; the message says what to do."""


@dataclass(frozen=True)
class ApiConfig:
    api_id: str
    stage: str
    route_selection_expression: str
    routes: dict[str, str]  # route key -> function name
    functions: dict[str, FunctionSpec]


def load_api(
    apigw: Any, awslambda: Any, api_id: str, stage: str, package: Path, code_root: Path
) -> ApiConfig:
    """Read the API's routes and their functions; unpack the package they run."""
    api = apigw.get_api(ApiId=api_id)
    stages = {s["StageName"] for s in apigw.get_stages(ApiId=api_id).get("Items", [])}
    if stage not in stages:
        raise ApiError(f"API {api_id} has no stage {stage!r}; run deploy again")
    integrations = {
        i["IntegrationId"]: i
        for page in apigw.get_paginator("get_integrations").paginate(ApiId=api_id)
        for i in page.get("Items", [])
    }
    data = package.read_bytes()
    sha256 = base64.b64encode(hashlib.sha256(data).digest()).decode()
    code_dir = code_root / sha256.replace("/", "_").rstrip("=")
    if not code_dir.exists():
        with zipfile.ZipFile(package) as archive:
            archive.extractall(code_dir)
    routes: dict[str, str] = {}
    functions: dict[str, FunctionSpec] = {}
    for page in apigw.get_paginator("get_routes").paginate(ApiId=api_id):
        for route in page.get("Items", []):
            target = route.get("Target", "")
            integration = integrations.get(target.removeprefix("integrations/"))
            match = _FUNCTION_IN_URI.search((integration or {}).get("IntegrationUri", ""))
            if match is None:
                raise ApiError(f"route {route['RouteKey']} has no Lambda integration")
            configuration = awslambda.get_function_configuration(FunctionName=match["arn"])
            name = configuration["FunctionName"]
            if configuration.get("CodeSha256") != sha256:
                raise ApiError(
                    f"function {name} was deployed from another package than {package}; "
                    "run deploy again"
                )
            routes[route["RouteKey"]] = name
            functions[name] = FunctionSpec(
                name=name,
                arn=configuration["FunctionArn"],
                handler=configuration["Handler"],
                code_dir=code_dir,
                timeout=int(configuration.get("Timeout", 3)),
                memory=int(configuration.get("MemorySize", 128)),
                environment=(configuration.get("Environment") or {}).get("Variables", {}),
            )
    return ApiConfig(
        api_id=api_id,
        stage=stage,
        route_selection_expression=api.get("RouteSelectionExpression", "$request.body.action"),
        routes=routes,
        functions=functions,
    )
