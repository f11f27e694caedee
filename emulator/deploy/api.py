"""The WebSocket API: the API itself, its authorizer, integrations, routes and stage.

Everything under the API is ours once the API is: routes no longer in the stack go.
A route becomes two-way through a route response created before the route names its
selection expression, so a run interrupted between the two finishes the job next time.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from emulator.deploy import calls
from emulator.deploy.executor import Context
from emulator.deploy.functions import function_arn
from emulator.deploy.models import ABSENT, CREATED, DELETED, NEW, UNCHANGED, UPDATED, Step

KIND = "websocket api"


def find_api(ctx: Context) -> dict[str, Any] | None:
    for api in calls.pages(ctx.client("apigatewayv2"), "get_apis", "Items"):
        if api["Name"] == ctx.stack.api_name and api["ProtocolType"] == "WEBSOCKET":
            return dict(api)
    return None


def plan_api(ctx: Context) -> list[Step]:
    """The API; sets ``refs.api_id`` and ``refs.api_endpoint`` (when it exists)."""
    apigw = ctx.client("apigatewayv2")
    name = ctx.stack.api_name
    expression = ctx.stack.route_selection_expression
    api = find_api(ctx)
    if api is None:
        ctx.refs.api_endpoint = f"wss://{NEW}.execute-api.{ctx.target.region}.amazonaws.com"

        def create() -> None:
            created = apigw.create_api(
                Name=name,
                ProtocolType="WEBSOCKET",
                RouteSelectionExpression=expression,
                Tags=ctx.tags,
            )
            ctx.refs.api_id, ctx.refs.api_endpoint = created["ApiId"], created["ApiEndpoint"]

        return [Step(CREATED, KIND, name, create)]
    ctx.refs.api_id, ctx.refs.api_endpoint = str(api["ApiId"]), str(api["ApiEndpoint"])
    if not ctx.owned(KIND, name, api.get("Tags")):
        return []
    if api.get("RouteSelectionExpression") == expression:
        return [Step(UNCHANGED, KIND, name)]
    return [
        Step(
            UPDATED,
            KIND,
            name,
            partial(apigw.update_api, ApiId=api["ApiId"], RouteSelectionExpression=expression),
        )
    ]


def remove_api(ctx: Context) -> list[Step]:
    name = ctx.stack.api_name
    target = ctx.target
    if target.name == "localstack" and target.api_home is None and not ctx.offers("apigatewayv2"):
        # Without API Gateway v2 in LocalStack, `make localstack` kept the API in its
        # embedded control plane, which went when it stopped.
        return [Step(ABSENT, KIND, f"{name} (went with `make localstack`)")]
    api = find_api(ctx)
    if api is None:
        return [Step(ABSENT, KIND, name)]
    if not ctx.owned(KIND, name, api.get("Tags")):
        return []
    # Routes, integrations and stages go with their API.
    delete = partial(ctx.client("apigatewayv2").delete_api, ApiId=api["ApiId"])
    return [Step(DELETED, KIND, name, delete)]


def integration_uri(ctx: Context, function_name: str) -> str:
    return (
        f"arn:aws:apigateway:{ctx.target.region}:lambda:path/2015-03-31/functions/"
        f"{function_arn(ctx, function_name)}/invocations"
    )


def _known(ctx: Context) -> bool:
    return ctx.refs.api_id != NEW


def plan_authorizer(ctx: Context) -> list[Step]:
    spec = ctx.stack.authorizer
    if spec is None:
        return []
    apigw = ctx.client("apigatewayv2")
    wanted = {
        "AuthorizerType": "REQUEST",
        "AuthorizerUri": integration_uri(ctx, ctx.stack.function_name(spec.function)),
        "IdentitySource": list(spec.identity_sources),
    }
    existing = None
    if _known(ctx):
        # Found through the $connect route that uses it (moto has no GetAuthorizers).
        connect = next(
            (
                r
                for r in calls.pages(apigw, "get_routes", "Items", ApiId=ctx.refs.api_id)
                if r["RouteKey"] == "$connect" and r.get("AuthorizerId")
            ),
            None,
        )
        if connect is not None:
            found = apigw.get_authorizer(
                ApiId=ctx.refs.api_id, AuthorizerId=connect["AuthorizerId"]
            )
            existing = found if found.get("Name") == spec.name else None
    if existing is None:

        def create() -> None:
            created = apigw.create_authorizer(ApiId=ctx.refs.api_id, Name=spec.name, **wanted)
            ctx.refs.authorizer_id = str(created["AuthorizerId"])

        ctx.refs.authorizer_id = NEW
        return [Step(CREATED, "authorizer", spec.name, create)]
    ctx.refs.authorizer_id = str(existing["AuthorizerId"])
    if {k: existing.get(k) for k in wanted} == wanted:
        return [Step(UNCHANGED, "authorizer", spec.name)]
    update = partial(
        apigw.update_authorizer,
        ApiId=ctx.refs.api_id,
        AuthorizerId=ctx.refs.authorizer_id,
        **wanted,
    )
    return [Step(UPDATED, "authorizer", spec.name, update)]


def plan_routes(ctx: Context) -> list[Step]:
    apigw = ctx.client("apigatewayv2")
    integrations: dict[str, dict[str, Any]] = {}
    routes: dict[str, dict[str, Any]] = {}
    if _known(ctx):
        for integration in calls.pages(apigw, "get_integrations", "Items", ApiId=ctx.refs.api_id):
            integrations[str(integration.get("IntegrationUri"))] = integration
            ctx.refs.integrations[str(integration.get("IntegrationUri"))] = integration[
                "IntegrationId"
            ]
        routes = {
            r["RouteKey"]: r
            for r in calls.pages(apigw, "get_routes", "Items", ApiId=ctx.refs.api_id)
        }
    steps: list[Step] = []
    for route_key, (function, spec) in ctx.stack.route_function().items():
        uri = integration_uri(ctx, ctx.stack.function_name(function))
        steps += _plan_integration(ctx, integrations, uri, spec.content_handling, route_key)
        steps += _plan_route(ctx, routes.pop(route_key, None), route_key, uri, spec.two_way)
    for route_key, route in routes.items():
        # Our API: a route no longer in the stack description goes.
        delete = partial(apigw.delete_route, ApiId=ctx.refs.api_id, RouteId=route["RouteId"])
        steps.append(Step(DELETED, "route", route_key, delete))
    return steps


def _route_settings(ctx: Context, route_key: str, uri: str) -> dict[str, Any]:
    """The route as the stack wants it, with the ids known when the step runs."""
    wanted: dict[str, Any] = {"Target": f"integrations/{ctx.refs.integrations.get(uri, NEW)}"}
    if route_key == "$connect" and ctx.stack.authorizer is not None:
        wanted |= {"AuthorizationType": "CUSTOM", "AuthorizerId": ctx.refs.authorizer_id}
    return wanted


def _plan_route(
    ctx: Context, route: dict[str, Any] | None, route_key: str, uri: str, two_way: bool
) -> list[Step]:
    apigw = ctx.client("apigatewayv2")
    found: dict[str, str] = {}
    if route is None:

        def create() -> None:
            created = apigw.create_route(
                ApiId=ctx.refs.api_id, RouteKey=route_key, **_route_settings(ctx, route_key, uri)
            )
            found["RouteId"] = created["RouteId"]

        steps = [Step(CREATED, "route", route_key, create)]
    else:
        found["RouteId"] = route["RouteId"]
        wanted = _route_settings(ctx, route_key, uri)
        if {k: route.get(k) for k in wanted} == wanted:
            steps = [Step(UNCHANGED, "route", route_key)]
        else:

            def update() -> None:
                apigw.update_route(
                    ApiId=ctx.refs.api_id,
                    RouteId=found["RouteId"],
                    **_route_settings(ctx, route_key, uri),
                )

            steps = [Step(UPDATED, "route", route_key, update)]
    if two_way and not (route or {}).get("RouteResponseSelectionExpression"):

        def make_two_way() -> None:
            try:
                apigw.create_route_response(
                    ApiId=ctx.refs.api_id, RouteId=found["RouteId"], RouteResponseKey="$default"
                )
            except Exception as exc:
                # Made by a run that stopped before the route named it: keep that one.
                if not calls.is_error(exc, "ConflictException"):
                    raise
            apigw.update_route(
                ApiId=ctx.refs.api_id,
                RouteId=found["RouteId"],
                RouteResponseSelectionExpression="$default",
            )

        steps.append(Step(CREATED, "route response", route_key, make_two_way))
    return steps


def _plan_integration(
    ctx: Context,
    integrations: dict[str, dict[str, Any]],
    uri: str,
    content_handling: str | None,
    route_key: str,
) -> list[Step]:
    """The Lambda proxy integration of a function, shared by the routes it serves."""
    apigw = ctx.client("apigatewayv2")
    integration = integrations.get(uri)
    if integration is None:
        options = {"ContentHandlingStrategy": content_handling} if content_handling else {}

        def create() -> None:
            created = apigw.create_integration(
                ApiId=ctx.refs.api_id,
                IntegrationType="AWS_PROXY",
                IntegrationMethod="POST",
                IntegrationUri=uri,
                **options,
            )
            ctx.refs.integrations[uri] = str(created["IntegrationId"])

        integrations[uri] = {"ContentHandlingStrategy": content_handling}
        return [Step(CREATED, "integration", route_key, create)]
    if integration.get("ContentHandlingStrategy") == content_handling or not content_handling:
        return []
    integration["ContentHandlingStrategy"] = content_handling

    def update() -> None:
        apigw.update_integration(
            ApiId=ctx.refs.api_id,
            IntegrationId=ctx.refs.integrations[uri],
            ContentHandlingStrategy=content_handling,
        )

    return [Step(UPDATED, "integration", route_key, update)]


def stage_settings(ctx: Context) -> dict[str, Any]:
    """The stage as the stack wants it: auto-deployed, with its throttling."""
    wanted: dict[str, Any] = {"AutoDeploy": True}
    if ctx.stack.throttle is not None:
        wanted["DefaultRouteSettings"] = ctx.stack.throttle.settings()
    routes = {
        key: spec.throttle.settings()
        for key, (_, spec) in ctx.stack.route_function().items()
        if spec.throttle is not None
    }
    if routes:
        wanted["RouteSettings"] = routes
    return wanted


def plan_stage(ctx: Context) -> list[Step]:
    apigw = ctx.client("apigatewayv2")
    stage = ctx.stack.stage
    current = None
    if _known(ctx):
        try:
            current = apigw.get_stage(ApiId=ctx.refs.api_id, StageName=stage)
        except Exception as exc:
            if not calls.is_error(exc, "NotFoundException"):
                raise
    # AutoDeploy: every route change goes live without a separate deployment.
    wanted = stage_settings(ctx)
    if current is None:

        def create() -> None:
            apigw.create_stage(ApiId=ctx.refs.api_id, StageName=stage, **wanted)

        return [Step(CREATED, "stage", stage, create)]
    if not _stage_differs(current, wanted):
        return [Step(UNCHANGED, "stage", stage)]
    return [Step(UPDATED, "stage", stage, lambda: _update_stage(ctx, stage, wanted))]


def _update_stage(ctx: Context, stage: str, wanted: dict[str, Any]) -> None:
    apigw = ctx.client("apigatewayv2")
    if (ctx.target.api_home or ctx.target).name == "local":
        # moto has no UpdateStage (it answers 500): its stage is replaced instead, which
        # AWS's never needs. The API, its routes and the gateway's sockets stay.
        apigw.delete_stage(ApiId=ctx.refs.api_id, StageName=stage)
        apigw.create_stage(ApiId=ctx.refs.api_id, StageName=stage, **wanted)
        return
    changes = {"RouteSettings": {}, "DefaultRouteSettings": {}} | wanted
    apigw.update_stage(ApiId=ctx.refs.api_id, StageName=stage, **changes)


_THROTTLE_KEYS = ("ThrottlingBurstLimit", "ThrottlingRateLimit")


def _throttle_of(settings: Any) -> tuple[Any, ...]:
    settings = settings or {}
    return tuple(settings.get(key) for key in _THROTTLE_KEYS)


def _stage_differs(current: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """Whether AutoDeploy or any throttling differs (other settings are AWS's own)."""
    if not current.get("AutoDeploy"):
        return True
    if _throttle_of(current.get("DefaultRouteSettings")) != _throttle_of(
        wanted.get("DefaultRouteSettings")
    ):
        return True
    have = {k: _throttle_of(v) for k, v in (current.get("RouteSettings") or {}).items()}
    want = {k: _throttle_of(v) for k, v in (wanted.get("RouteSettings") or {}).items()}
    have = {k: v for k, v in have.items() if v != (None, None)}
    return have != want
