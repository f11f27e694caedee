"""An AWS Budgets alert on the account's monthly cost, when ``BUDGET_USD`` is given.

It notifies the alarms' topic when the month's actual cost passes 80% of the budget,
and when the forecast passes 100%. Budgets belong to the account, not a region, so the
name carries the region; the budget is tagged as the stack's when it is created. Without
``BUDGET_USD`` deploy leaves any budget as it is; ``BUDGET_USD=0`` removes ours.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from emulator.deploy import calls
from emulator.deploy.executor import Context
from emulator.deploy.models import ABSENT, CREATED, DELETED, UNCHANGED, UPDATED, Step

NOTIFICATIONS = (
    {
        "NotificationType": "ACTUAL",
        "ComparisonOperator": "GREATER_THAN",
        "Threshold": 80.0,
        "ThresholdType": "PERCENTAGE",
    },
    {
        "NotificationType": "FORECASTED",
        "ComparisonOperator": "GREATER_THAN",
        "Threshold": 100.0,
        "ThresholdType": "PERCENTAGE",
    },
)


def _budget(ctx: Context, usd: float) -> dict[str, Any]:
    return {
        "BudgetName": ctx.names.budget,
        "BudgetLimit": {"Amount": f"{usd:.2f}", "Unit": "USD"},
        "TimeUnit": "MONTHLY",
        "BudgetType": "COST",
    }


def _current(ctx: Context) -> dict[str, Any] | None:
    try:
        found = ctx.client("budgets").describe_budget(
            AccountId=ctx.refs.account, BudgetName=ctx.names.budget
        )
    except Exception as exc:
        if calls.is_error(exc, "NotFoundException"):
            return None
        raise
    return dict(found["Budget"])


def _tags(ctx: Context) -> dict[str, str]:
    arn = f"arn:aws:budgets::{ctx.refs.account}:budget/{ctx.names.budget}"
    tags = ctx.client("budgets").list_tags_for_resource(ResourceARN=arn)
    return calls.tag_dict(tags.get("ResourceTags"))


def plan(ctx: Context) -> list[Step]:
    usd = ctx.options.budget_usd
    if usd is None:
        return []
    if usd == 0:
        return removal(ctx)
    budgets = ctx.client("budgets")
    name = ctx.names.budget
    current = _current(ctx)

    def subscribers() -> list[dict[str, str]]:
        return [{"SubscriptionType": "SNS", "Address": ctx.refs.topic_arn}]

    if current is None:

        def create() -> None:
            budgets.create_budget(
                AccountId=ctx.refs.account,
                Budget=_budget(ctx, usd),
                NotificationsWithSubscribers=[
                    {"Notification": n, "Subscribers": subscribers()} for n in NOTIFICATIONS
                ],
                ResourceTags=calls.tag_list(ctx.tags),
            )

        return [Step(CREATED, "budget", f"{name} (${usd:g} a month)", create)]
    if not ctx.owned("budget", name, _tags(ctx)):
        return []
    have = list(
        calls.pages(
            budgets,
            "describe_notifications_for_budget",
            "Notifications",
            AccountId=ctx.refs.account,
            BudgetName=name,
        )
    )
    missing = [n for n in NOTIFICATIONS if not any(not calls.differs(n, h) for h in have)]
    amount_differs = float(current["BudgetLimit"]["Amount"]) != usd
    if not missing and not amount_differs:
        return [Step(UNCHANGED, "budget", f"{name} (${usd:g} a month)")]

    def update() -> None:
        if amount_differs:
            budgets.update_budget(AccountId=ctx.refs.account, NewBudget=_budget(ctx, usd))
        for notification in missing:
            budgets.create_notification(
                AccountId=ctx.refs.account,
                BudgetName=name,
                Notification=notification,
                Subscribers=subscribers(),
            )

    return [Step(UPDATED, "budget", f"{name} (${usd:g} a month)", update)]


def removal(ctx: Context) -> list[Step]:
    name = ctx.names.budget
    if _current(ctx) is None:
        return [Step(ABSENT, "budget", name)]
    if not ctx.owned("budget", name, _tags(ctx)):
        return []
    delete = partial(
        ctx.client("budgets").delete_budget, AccountId=ctx.refs.account, BudgetName=name
    )
    return [Step(DELETED, "budget", name, delete)]
