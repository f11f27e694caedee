"""A CloudWatch dashboard of the stack's key metrics.

Invocations and errors per function, connections and messages, the API's errors,
DynamoDB's consumed capacity and throttles, and the website's requests through
CloudFront. A dashboard takes no tags when it is made: its first widget names the
stack's tag, which is how deploy knows it as its own. Its name carries the region
(dashboards are global to the account).
"""

from __future__ import annotations

import json
import re
from functools import partial
from typing import Any

from emulator.deploy import calls
from emulator.deploy.executor import Context
from emulator.deploy.models import ABSENT, CREATED, DELETED, STACK_TAG, UNCHANGED, UPDATED, Step

PERIOD = 300  # seconds: each point of a graph is a five-minute sum
_MARKER = re.compile(re.escape(STACK_TAG) + r"=(\S+?)`")


def dashboard_body(ctx: Context) -> dict[str, Any]:
    """The seed's key metrics, two graphs a row, under a line naming the stack's tag."""
    stack, region = ctx.stack, ctx.target.region
    functions = [stack.function_name(f) for f in stack.all_functions]
    tables = [stack.table_name(t) for t in stack.tables]
    api = ["ApiId", ctx.refs.api_id, "Stage", stack.stage]

    def graph(title: str, metrics: list[list[Any]], where: str = region) -> dict[str, Any]:
        return {
            "type": "metric",
            "properties": {
                "title": title,
                "metrics": metrics,
                "stat": "Sum",
                "period": PERIOD,
                "region": where,
                "view": "timeSeries",
            },
        }

    graphs = [
        graph(
            "Invocations per function",
            [["AWS/Lambda", "Invocations", "FunctionName", f] for f in functions],
        ),
        graph(
            "Errors per function", [["AWS/Lambda", "Errors", "FunctionName", f] for f in functions]
        ),
        graph(
            "Connections and messages",
            [["AWS/ApiGateway", "ConnectCount", *api], ["AWS/ApiGateway", "MessageCount", *api]],
        ),
        graph(
            "API errors (integration, execution, client)",
            [
                ["AWS/ApiGateway", m, *api]
                for m in ("IntegrationError", "ExecutionError", "ClientError")
            ],
        ),
        graph(
            "DynamoDB consumed capacity",
            [
                ["AWS/DynamoDB", m, "TableName", t]
                for t in tables
                for m in ("ConsumedReadCapacityUnits", "ConsumedWriteCapacityUnits")
            ],
        ),
        graph(
            "DynamoDB throttled requests",
            [
                ["AWS/DynamoDB", m, "TableName", t]
                for t in tables
                for m in ("ReadThrottleEvents", "WriteThrottleEvents")
            ],
        ),
    ]
    if ctx.cdn:
        cdn = ["DistributionId", ctx.refs.distribution_id, "Region", "Global"]
        # CloudFront's metrics live in us-east-1, whatever the stack's region.
        graphs.append(
            graph(
                "Website requests (CloudFront)",
                [["AWS/CloudFront", "Requests", *cdn], ["AWS/CloudFront", "5xxErrorRate", *cdn]],
                where="us-east-1",
            )
        )
    title = {
        "type": "text",
        "x": 0,
        "y": 0,
        "width": 24,
        "height": 2,
        "properties": {
            "markdown": f"# {ctx.names.base} in {region}\nMade by deploy: `{ctx.names.marker}`",
        },
    }
    placed = [
        {**g, "x": 12 * (i % 2), "y": 2 + 6 * (i // 2), "width": 12, "height": 6}
        for i, g in enumerate(graphs)
    ]
    return {"widgets": [title, *placed]}


def _dashboard(ctx: Context) -> dict[str, Any] | None:
    """The dashboard's body; None when there is none (listed first: the error for a missing
    dashboard differs between AWS, ResourceNotFound, and LocalStack, InvalidParameterValue)."""
    cloudwatch = ctx.client("cloudwatch")
    name = ctx.names.dashboard
    listed = calls.pages(
        cloudwatch, "list_dashboards", "DashboardEntries", DashboardNamePrefix=name
    )
    if all(entry["DashboardName"] != name for entry in listed):
        return None
    return dict(json.loads(cloudwatch.get_dashboard(DashboardName=name)["DashboardBody"]))


def owner_tags(body: dict[str, Any]) -> dict[str, str]:
    """The stack's tag, as the dashboard's first widget names it (a dashboard has no tags)."""
    widgets = body.get("widgets") or [{}]
    found = _MARKER.search(str(widgets[0].get("properties", {}).get("markdown", "")))
    return {STACK_TAG: found.group(1)} if found else {}


def plan_dashboard(ctx: Context) -> list[Step]:
    cloudwatch = ctx.client("cloudwatch")
    name = ctx.names.dashboard

    def put() -> None:
        cloudwatch.put_dashboard(DashboardName=name, DashboardBody=json.dumps(dashboard_body(ctx)))

    current = _dashboard(ctx)
    if current is None:
        return [Step(CREATED, "dashboard", name, put)]
    if not ctx.owned("dashboard", name, owner_tags(current)):
        return []
    return [
        Step(UNCHANGED, "dashboard", name)
        if current == dashboard_body(ctx)
        else Step(UPDATED, "dashboard", name, put)
    ]


def remove_dashboard(ctx: Context) -> list[Step]:
    name = ctx.names.dashboard
    current = _dashboard(ctx)
    if current is None:
        return [Step(ABSENT, "dashboard", name)]
    if not ctx.owned("dashboard", name, owner_tags(current)):
        return []
    return [
        Step(
            DELETED,
            "dashboard",
            name,
            partial(ctx.client("cloudwatch").delete_dashboards, DashboardNames=[name]),
        )
    ]


def dashboard_url(ctx: Context) -> str:
    region = ctx.target.region
    return f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#dashboards/dashboard/{ctx.names.dashboard}"
