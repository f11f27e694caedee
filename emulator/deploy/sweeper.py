"""Removing what deploy made, in the reverse of the order it was made.

Each resource is looked up first; what is already gone is reported ``absent``. A
resource under one of our names that isn't ours is never touched: the rest is removed,
then the run fails naming each one left alone, with its tags.
"""

from __future__ import annotations

from emulator.deploy import api, budget, cdn, dashboard, functions, monitoring, tables, website
from emulator.deploy.executor import Context, execute
from emulator.deploy.models import ForeignResources, Step
from emulator.deploy.planner import decide_cdn, watched


def removal_plan(ctx: Context) -> list[Step]:
    stack = ctx.stack
    steps: list[Step] = []
    if decide_cdn(ctx, say=False):
        steps += cdn.removal(ctx)
    # On AWS a budget may have come from any earlier deploy; elsewhere only when asked
    # (moto keeps budgets but not their tags).
    asked = ctx.target.name == "aws" or ctx.options.budget_usd is not None
    if asked and ctx.offers("budgets"):
        steps += budget.removal(ctx)
    if watched(ctx):
        if ctx.offers("cloudwatch"):
            steps += dashboard.remove_dashboard(ctx)
            steps += monitoring.remove_alarms(ctx)
        if ctx.offers("sns"):
            steps += monitoring.remove_topic(ctx)
    if stack.website is not None:
        steps += website.remove_bucket(ctx, stack.website_bucket(ctx.refs.account))
    for name in stack.buckets:
        steps += website.remove_bucket(ctx, stack.bucket(name))
    steps += api.remove_api(ctx)
    steps += functions.remove_functions(ctx)
    steps += functions.remove_role(ctx)
    steps += tables.removal(ctx)
    if ctx.offers("logs"):
        # After the functions: nothing writes to them any more.
        steps += monitoring.remove_log_groups(ctx)
    return steps


def sweep(ctx: Context) -> None:
    """Remove the stack's resources; then fail if any of our names was someone else's."""
    ctx.refs.account = ctx.target.account_id()
    execute(removal_plan(ctx), ctx.report, ctx.dry_run)
    if ctx.foreign:
        raise ForeignResources(ctx.foreign, ctx.stack.stack_id, destroying=True)
