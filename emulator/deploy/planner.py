"""What to do: every resource of the stack looked up, compared, and its owner checked.

The plan is made before anything is written, by reads only. A resource under one of our
names that isn't ours stops the deploy here, with all such resources named, so nothing
is half made. Steps come in the order they must run: what a later step needs (the
API's id, the role, the distribution's ARN) is made by an earlier one.
"""

from __future__ import annotations

from collections.abc import Callable

from emulator import package
from emulator.deploy import api, budget, cdn, dashboard, functions, monitoring, tables, website
from emulator.deploy.executor import Context
from emulator.deploy.models import CREATED, ForeignResources, Step

# What monitoring needs from the target, and what goes without it.
MONITORING = (
    ("logs", "the functions' log groups"),
    ("sns", "the alarms' topic"),
    ("cloudwatch", "the alarms and the dashboard"),
)


def decide_cdn(ctx: Context, say: bool = True) -> bool:
    """Whether CloudFront serves the website: on AWS, and where the target offers it
    (with ``say``, a note tells why it doesn't)."""
    if ctx.options.cdn is not None:
        return ctx.options.cdn
    if ctx.stack.website is None:
        return False
    if ctx.target.name == "local":
        reason = "no CloudFront locally: the website server serves the bucket over HTTP"
    elif ctx.target.name == "localstack" and not ctx.offers("cloudfront"):
        reason = (
            "LocalStack offers no CloudFront (its free plan): the website server serves "
            "the bucket over HTTP, as `make local` does"
        )
    else:
        return True
    if say:
        ctx.report.note(reason)
    return False


def monitored(ctx: Context, service: str) -> bool:
    """Whether the target offers a monitoring service; says so once when it doesn't."""
    if ctx.offers(service):
        return True
    what = dict(MONITORING).get(service, service)
    where = "LocalStack" if ctx.target.name == "localstack" else ctx.target.name
    ctx.report.note(f"{where} offers no {service}: skipped {what}")
    return False


def watched(ctx: Context) -> bool:
    """Whether the stack gets its alarms, their topic and its dashboard: not on the
    embedded emulator, where nothing evaluates an alarm or shows a dashboard (deploying
    them there only started three more of moto's services before Ready)."""
    if ctx.options.monitoring is not None:
        return ctx.options.monitoring
    return ctx.target.name != "local"


def plan(
    ctx: Context, packages: dict[str, package.Package], websocket_url: Callable[[], str]
) -> list[Step]:
    stack = ctx.stack
    ctx.cdn = decide_cdn(ctx)
    logs, sns, cloudwatch = (monitored(ctx, service) for service, _ in MONITORING)
    steps = tables.plan(ctx)
    steps += api.plan_api(ctx)
    steps += functions.plan_role(ctx)
    if logs:
        steps += monitoring.plan_log_groups(ctx)
    steps += functions.plan_functions(ctx, packages)
    steps += api.plan_authorizer(ctx)
    steps += api.plan_routes(ctx)
    steps += functions.plan_permissions(ctx)
    steps += api.plan_stage(ctx)
    for name in stack.buckets:
        steps += website.plan_bucket(ctx, stack.bucket(name))
    if stack.website is not None:
        bucket = stack.website_bucket(ctx.refs.account)
        bucket_steps = website.plan_bucket(ctx, bucket)  # none when it isn't ours
        new = bool(bucket_steps) and bucket_steps[0].action == CREATED
        steps += bucket_steps
        if bucket_steps:
            steps += website.plan_files(ctx, stack.website, bucket, new, websocket_url)
        if ctx.cdn:
            steps += cdn.plan_access_control(ctx)
            steps += cdn.plan_headers_policy(ctx, stack.website)
            steps += cdn.plan_distribution(ctx, stack.website, bucket)
            if bucket_steps:
                steps += website.plan_bucket_policy(ctx, bucket, new)
    if watched(ctx):
        if sns:
            steps += monitoring.plan_topic(ctx)
        if sns and cloudwatch:
            steps += monitoring.plan_alarms(ctx)
        if cloudwatch:
            steps += dashboard.plan_dashboard(ctx)
    if sns and ctx.options.budget_usd is not None and monitored(ctx, "budgets"):
        steps += budget.plan(ctx)
    if ctx.foreign:
        raise ForeignResources(ctx.foreign, stack.stack_id)
    return steps
