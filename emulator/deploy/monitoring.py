"""Watching the stack: the functions' log groups, the alarms and the topic they notify.

- Each function's log group, created before the function (with the retention asked
  for), so Lambda never makes one that keeps logs forever.
- Alarms: each function's error rate over 1% (metric math on Errors / Invocations),
  the API's integration and execution errors (its 5xx), each table's throttled
  requests. They notify one SNS topic, which an email address can subscribe to
  (``ALARM_EMAIL``); AWS Budgets may publish to it too (:mod:`emulator.deploy.budget`).

The dashboard is :mod:`emulator.deploy.dashboard`. Everything here carries the stack's tag.
"""

from __future__ import annotations

import json
import os
from functools import partial
from typing import Any

from emulator.deploy import calls
from emulator.deploy.executor import Context
from emulator.deploy.functions import log_group
from emulator.deploy.models import (
    ABSENT,
    CREATED,
    DELETED,
    STACK_TAG,
    UNCHANGED,
    UPDATED,
    Step,
)

PERIOD = 300  # seconds: alarms look at five-minute sums
ERROR_RATE_PERCENT = 1.0


# --- log groups ---------------------------------------------------------------------


def _log_groups(ctx: Context) -> dict[str, dict[str, Any]]:
    """Our log groups that exist, by name."""
    names = [log_group(ctx.stack.function_name(f)) for f in ctx.stack.all_functions]
    found = calls.pages(
        ctx.client("logs"),
        "describe_log_groups",
        "logGroups",
        logGroupNamePrefix=os.path.commonprefix(names),  # noqa: RUF071 (a name prefix)
    )
    return {g["logGroupName"]: g for g in found if g["logGroupName"] in names}


def _log_group_tags(ctx: Context, group: dict[str, Any]) -> dict[str, str]:
    arn = group.get("logGroupArn") or str(group["arn"]).removesuffix(":*")
    return dict(ctx.client("logs").list_tags_for_resource(resourceArn=arn).get("tags", {}))


def plan_log_groups(ctx: Context) -> list[Step]:
    logs = ctx.client("logs")
    days = ctx.options.log_retention_days
    existing = _log_groups(ctx)
    found = ctx.gather(lambda g: _log_group_tags(ctx, g), existing.values())
    tags = dict(zip(existing, found, strict=True))
    steps = []
    for function in ctx.stack.all_functions:
        name = log_group(ctx.stack.function_name(function))
        group = existing.get(name)
        retain = partial(logs.put_retention_policy, logGroupName=name, retentionInDays=days)
        if group is None:

            def create(name: str = name, retain: Any = retain) -> None:
                logs.create_log_group(logGroupName=name, tags=ctx.tags)
                retain()

            steps.append(Step(CREATED, "log group", name, create))
        elif ctx.owned("log group", name, tags[name]):
            same = group.get("retentionInDays") == days
            steps.append(
                Step(UNCHANGED, "log group", name)
                if same
                else Step(UPDATED, "log group", name, retain)
            )
    return steps


def remove_log_groups(ctx: Context) -> list[Step]:
    existing = _log_groups(ctx)
    found = ctx.gather(lambda g: _log_group_tags(ctx, g), existing.values())
    tags = dict(zip(existing, found, strict=True))
    steps = []
    for function in ctx.stack.all_functions:
        name = log_group(ctx.stack.function_name(function))
        group = existing.get(name)
        if group is None:
            steps.append(Step(ABSENT, "log group", name))
        elif ctx.owned("log group", name, tags[name]):
            delete = partial(ctx.client("logs").delete_log_group, logGroupName=name)
            steps.append(Step(DELETED, "log group", name, delete))
    return steps


# --- the topic ----------------------------------------------------------------------


def topic_policy(ctx: Context, arn: str) -> dict[str, Any]:
    """The account may use the topic (SNS's default); AWS Budgets may publish to it."""
    account = ctx.refs.account
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ThisAccount",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": [
                    "SNS:Publish",
                    "SNS:Subscribe",
                    "SNS:GetTopicAttributes",
                    "SNS:ListSubscriptionsByTopic",
                ],
                "Resource": arn,
                "Condition": {"StringEquals": {"AWS:SourceOwner": account}},
            },
            {
                "Sid": "BudgetAlerts",
                "Effect": "Allow",
                "Principal": {"Service": "budgets.amazonaws.com"},
                "Action": "SNS:Publish",
                "Resource": arn,
                "Condition": {"StringEquals": {"aws:SourceAccount": account}},
            },
        ],
    }


def _topic(ctx: Context) -> tuple[str, dict[str, str] | None]:
    """The topic's ARN, and its attributes (None when there is no such topic)."""
    arn = f"arn:aws:sns:{ctx.target.region}:{ctx.refs.account}:{ctx.names.topic}"
    try:
        return arn, dict(ctx.client("sns").get_topic_attributes(TopicArn=arn)["Attributes"])
    except Exception as exc:
        if calls.is_error(exc, "NotFound", "NotFoundException", "404"):
            return arn, None
        raise


def _topic_tags(ctx: Context, arn: str) -> dict[str, str]:
    return calls.tag_dict(ctx.client("sns").list_tags_for_resource(ResourceArn=arn).get("Tags"))


def plan_topic(ctx: Context) -> list[Step]:
    sns = ctx.client("sns")
    name = ctx.names.topic
    arn, attributes = _topic(ctx)
    ctx.refs.topic_arn = arn
    policy = json.dumps(topic_policy(ctx, arn))
    if attributes is None:

        def create() -> None:
            created = sns.create_topic(
                Name=name, Attributes={"Policy": policy}, Tags=calls.tag_list(ctx.tags)
            )
            ctx.refs.topic_arn = created["TopicArn"]

        steps = [Step(CREATED, "topic", name, create)]
    elif not ctx.owned("topic", name, _topic_tags(ctx, arn)):
        return []
    elif json.loads(attributes.get("Policy") or "{}") == topic_policy(ctx, arn):
        steps = [Step(UNCHANGED, "topic", name)]
    else:
        set_policy = partial(
            sns.set_topic_attributes, TopicArn=arn, AttributeName="Policy", AttributeValue=policy
        )
        steps = [Step(UPDATED, "topic", name, set_policy)]
    return steps + _plan_subscription(ctx, subscribed=attributes is not None)


def _plan_subscription(ctx: Context, subscribed: bool) -> list[Step]:
    email = ctx.options.alarm_email
    if email is None:
        return []
    sns = ctx.client("sns")
    endpoints = set()
    if subscribed:
        endpoints = {
            s.get("Endpoint")
            for s in calls.pages(
                sns, "list_subscriptions_by_topic", "Subscriptions", TopicArn=ctx.refs.topic_arn
            )
        }
    if email in endpoints:
        return [Step(UNCHANGED, "subscription", email)]

    def subscribe() -> None:
        sns.subscribe(TopicArn=ctx.refs.topic_arn, Protocol="email", Endpoint=email)
        ctx.report.note(f"AWS emails {email} a link to confirm the alarms' subscription: follow it")

    return [Step(CREATED, "subscription", email, subscribe)]


def remove_topic(ctx: Context) -> list[Step]:
    arn, attributes = _topic(ctx)
    if attributes is None:
        return [Step(ABSENT, "topic", ctx.names.topic)]
    if not ctx.owned("topic", ctx.names.topic, _topic_tags(ctx, arn)):
        return []
    # Its subscriptions go with it.
    return [
        Step(
            DELETED, "topic", ctx.names.topic, partial(ctx.client("sns").delete_topic, TopicArn=arn)
        )
    ]


# --- alarms -------------------------------------------------------------------------


def _metric(
    metric_id: str, namespace: str, name: str, dimensions: dict[str, str]
) -> dict[str, Any]:
    return {
        "Id": metric_id,
        "MetricStat": {
            "Metric": {
                "Namespace": namespace,
                "MetricName": name,
                "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
            },
            "Period": PERIOD,
            "Stat": "Sum",
        },
        "ReturnData": False,
    }


def alarm_definitions(ctx: Context) -> list[dict[str, Any]]:
    """PutMetricAlarm's arguments for every alarm (without tags), with today's ids."""
    common = {
        "ActionsEnabled": True,
        "AlarmActions": [ctx.refs.topic_arn],
        "EvaluationPeriods": 1,
        "DatapointsToAlarm": 1,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
    }
    names, stack = ctx.names, ctx.stack
    alarms = []
    for function in stack.all_functions:
        name = stack.function_name(function)
        on = {"FunctionName": name}
        alarms.append(
            {
                "AlarmName": names.alarm(name, "error rate over 1%"),
                "AlarmDescription": (
                    f"Lambda function {name}: more than 1% of invocations failed in 5 minutes"
                ),
                "Metrics": [
                    _metric("errors", "AWS/Lambda", "Errors", on),
                    _metric("invocations", "AWS/Lambda", "Invocations", on),
                    {
                        "Id": "rate",
                        "Expression": "IF(invocations > 0, 100 * errors / invocations, 0)",
                        "Label": "error rate (%)",
                        "ReturnData": True,
                    },
                ],
                "Threshold": ERROR_RATE_PERCENT,
                **common,
            }
        )
    api = {"ApiId": ctx.refs.api_id, "Stage": stack.stage}
    for metric, what in (
        ("IntegrationError", "integration errors"),
        ("ExecutionError", "execution errors"),
    ):
        alarms.append(
            {
                "AlarmName": names.alarm(stack.api_name, what),
                "AlarmDescription": (
                    f"WebSocket API {stack.api_name}: {metric} (the API's 5xx) in 5 minutes"
                ),
                "Namespace": "AWS/ApiGateway",
                "MetricName": metric,
                "Dimensions": [{"Name": k, "Value": v} for k, v in api.items()],
                "Statistic": "Sum",
                "Period": PERIOD,
                "Threshold": 0.0,
                **common,
            }
        )
    for table in stack.tables:
        name = stack.table_name(table)
        on = {"TableName": name}
        alarms.append(
            {
                "AlarmName": names.alarm(name, "throttled requests"),
                "AlarmDescription": f"DynamoDB table {name}: requests throttled in 5 minutes",
                "Metrics": [
                    _metric("reads", "AWS/DynamoDB", "ReadThrottleEvents", on),
                    _metric("writes", "AWS/DynamoDB", "WriteThrottleEvents", on),
                    {
                        "Id": "throttled",
                        "Expression": "reads + writes",
                        "Label": "throttled",
                        "ReturnData": True,
                    },
                ],
                "Threshold": 0.0,
                **common,
            }
        )
    return alarms


def _alarms_under_our_prefix(ctx: Context) -> dict[str, tuple[dict[str, Any], dict[str, str]]]:
    """Alarms whose names start as ours do, with their tags, by name."""
    cloudwatch = ctx.client("cloudwatch")
    found = list(
        calls.pages(
            cloudwatch, "describe_alarms", "MetricAlarms", AlarmNamePrefix=ctx.names.alarm_prefix
        )
    )

    def tags(alarm: dict[str, Any]) -> dict[str, str]:
        answer = cloudwatch.list_tags_for_resource(ResourceARN=alarm["AlarmArn"])
        return calls.tag_dict(answer.get("Tags"))

    return {a["AlarmName"]: (a, t) for a, t in zip(found, ctx.gather(tags, found), strict=True)}


def plan_alarms(ctx: Context) -> list[Step]:
    cloudwatch = ctx.client("cloudwatch")
    existing = _alarms_under_our_prefix(ctx)
    steps = []
    for index, spec in enumerate(alarm_definitions(ctx)):
        name = spec["AlarmName"]

        def put(index: int = index) -> None:
            cloudwatch.put_metric_alarm(
                **alarm_definitions(ctx)[index], Tags=calls.tag_list(ctx.tags)
            )

        found = existing.pop(name, None)
        if found is None:
            steps.append(Step(CREATED, "alarm", name, put))
        elif ctx.owned("alarm", name, found[1]):
            steps.append(
                Step(UPDATED, "alarm", name, put)
                if calls.differs(spec, found[0])
                else Step(UNCHANGED, "alarm", name)
            )
    for name, (_, tags) in existing.items():
        # Ours, and no longer in the stack (a function removed): it goes.
        if tags.get(STACK_TAG) == ctx.stack.stack_id:
            steps.append(
                Step(DELETED, "alarm", name, partial(cloudwatch.delete_alarms, AlarmNames=[name]))
            )
    return steps


def remove_alarms(ctx: Context) -> list[Step]:
    cloudwatch = ctx.client("cloudwatch")
    existing = _alarms_under_our_prefix(ctx)
    steps = []
    for spec in alarm_definitions(ctx):
        name = spec["AlarmName"]
        found = existing.pop(name, None)
        if found is None:
            steps.append(Step(ABSENT, "alarm", name))
        elif ctx.owned("alarm", name, found[1]):
            steps.append(
                Step(DELETED, "alarm", name, partial(cloudwatch.delete_alarms, AlarmNames=[name]))
            )
    return steps
