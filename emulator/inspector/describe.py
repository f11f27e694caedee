"""What the inspector page shows of the API itself: routes, integrations, stage settings."""

from __future__ import annotations

from typing import Any

from emulator.api import ApiConfig
from emulator.gateway import Gateway


def describe_api(api: ApiConfig, gateway: Gateway) -> dict[str, Any]:
    """The served API as plain data: its routes and their functions, the authorizer,
    the stage's throttles and limits, and where it is reached."""
    limits = gateway.limits
    return {
        "apiId": api.api_id,
        "stage": api.stage,
        "url": gateway.url,
        "managementEndpoint": gateway.management_endpoint,
        "routeSelectionExpression": api.route_selection_expression,
        "routes": [
            {
                "key": route.key,
                "function": route.function,
                "twoWay": route.two_way,
                "contentHandling": route.content_handling,
                "throttle": route.throttle.settings() if route.throttle is not None else None,
            }
            for route in sorted(api.routes.values(), key=lambda r: r.key)
        ],
        "authorizer": {
            "function": api.authorizer.function,
            "identitySources": list(api.authorizer.identity_sources),
        }
        if api.authorizer is not None
        else None,
        "functions": [
            {
                "name": spec.name,
                "handler": spec.handler,
                "timeout": spec.timeout,
                "memory": spec.memory,
            }
            for spec in sorted(api.functions.values(), key=lambda s: s.name)
        ],
        "limits": {
            "messageBytes": limits.message_bytes,
            "frameBytes": limits.frame_bytes,
            "idleTimeout": limits.idle_timeout,
            "lifetime": limits.lifetime,
        },
    }
