"""docs/performance.md's cost part: what a message and each action cost on AWS, per
million, by room size; the seed's monthly estimate redone; the prices and the model."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable

from bench import cost


def _mean(items: Iterable[cost.Invocation], value: Callable[[cost.Invocation], float]) -> float:
    return statistics.mean(value(i) for i in items)


def _per_million(items: list[cost.Invocation]) -> dict[str, float]:
    parts = [i.dollars() for i in items]
    return {k: 1e6 * statistics.mean(p[k] for p in parts) for k in parts[0]}


def cost_section(report: cost.CostReport) -> str:
    p, m = cost.PRICES, cost.MODEL
    lines = [
        "### `sendMessage`, per message, by room size",
        "",
        "Every member online with one connection; the sender gets the broadcast and its "
        "acknowledgement.",
        "",
        "| members | posts | DynamoDB calls | read units | write units | moto said "
        "| CPU here | billed duration (model, 256 MB) | Lambda | DynamoDB | API Gateway "
        "| **$ per million messages** |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for size, sends in sorted(report.send.items()):
        dollars = _per_million(sends)
        lines.append(
            f"| {size:,} | {_mean(sends, lambda i: i.posts):,.0f} "
            f"| {_mean(sends, lambda i: i.dynamodb_calls):.0f} "
            f"| {_mean(sends, lambda i: i.window.read_units):,.1f} "
            f"| {_mean(sends, lambda i: i.window.write_units):,.1f} "
            f"| {_mean(sends, lambda i: sum(c.reported_units for c in i.window.calls)):.1f} "
            f"| {_mean(sends, lambda i: i.cpu_s * 1000):,.0f} ms "
            f"| {_mean(sends, lambda i: i.billed_ms):,.0f} ms "
            f"| ${dollars['Lambda']:,.2f} | ${dollars['DynamoDB']:,.2f} "
            f"| ${dollars['API Gateway']:,.2f} | **${sum(dollars.values()):,.2f}** |"
        )
    lines += [
        "",
        "### Every action, in a room of 10 (built through the handlers)",
        "",
        "| action | invocations | DynamoDB calls | read units | write units | posts "
        "| billed duration (model) | $ per million actions |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for action, items in report.actions.items():
        lines.append(
            f"| `{action}` | {len(items)} | {_mean(items, lambda i: i.dynamodb_calls):.1f} "
            f"| {_mean(items, lambda i: i.window.read_units):.1f} "
            f"| {_mean(items, lambda i: i.window.write_units):.1f} "
            f"| {_mean(items, lambda i: i.posts):.1f} "
            f"| {_mean(items, lambda i: i.billed_ms):,.0f} ms "
            f"| ${sum(_per_million(items).values()):,.2f} |"
        )
    lines += ["", monthly(report), "", _pricing_notes(p, m)]
    return "\n".join(lines)


def monthly(report: cost.CostReport) -> str:
    """The seed's estimate, redone: 100 users, 1,000 messages a day, rooms of 10."""
    users, messages_per_day, days, hours_online, sessions = 100, 1000, 30, 8, 2
    send = report.send.get(10, [])
    if not send:
        return ""
    per_message = sum(_per_million(send).values()) / 1e6
    session_actions = ("$connect", "listRooms", "$disconnect")
    per_session = sum(
        sum(_per_million(report.actions[a]).values()) / 1e6
        for a in session_actions
        if a in report.actions
    )
    messages = messages_per_day * days * per_message
    logins = users * sessions * days * per_session
    minutes = users * hours_online * 60 * days * cost.PRICES.connection_minute
    total = messages + logins + minutes
    return (
        "### The seed's estimate, redone\n\n"
        f"The seed estimated under $1 a month for {users} users and {messages_per_day:,} "
        f"messages a day. With the figures above, in rooms of 10, {days} days, each user "
        f"online {hours_online} h a day in {sessions} sessions, and no free tier:\n\n"
        "| part | per month |\n|---|---|\n"
        f"| {messages_per_day * days:,} messages | ${messages:.2f} |\n"
        f"| {users * sessions * days:,} sessions (`$connect`, `listRooms`, `$disconnect`) "
        f"| ${logins:.2f} |\n"
        f"| {users * hours_online * 60 * days:,} connection minutes | ${minutes:.2f} |\n"
        f"| **total** | **${total:.2f}** "
        f"({'under' if total < 1 else 'over'} the $1 estimate) |"
    )


def _pricing_notes(p: cost.Prices, m: cost.Model) -> str:
    return f"""### Prices, sources and the duration model

us-east-1 list prices, without free tiers, looked up on 2026-11-25:

| what | price | source |
|---|---|---|
| Lambda requests | ${p.lambda_request * 1e6:.2f} per million | [AWS Lambda pricing](https://aws.amazon.com/lambda/pricing/); the same figure in AWS's whitepaper [How AWS Pricing Works: Lambda](https://docs.aws.amazon.com/whitepapers/latest/how-aws-pricing-works/lambda.html) |
| Lambda duration (x86) | ${p.lambda_gb_second:.10f} per GB-second, billed per 1 ms | [AWS Lambda pricing](https://aws.amazon.com/lambda/pricing/) (the whitepaper rounds it to $0.00001667) |
| DynamoDB on-demand reads | ${p.read_unit * 1e6:.3f} per million read request units | [DynamoDB on-demand pricing](https://aws.amazon.com/dynamodb/pricing/on-demand/), after the November 2024 reduction: **not verified** against AWS's page here (taken from 2025 articles quoting it); the units' rules are from the whitepaper |
| DynamoDB on-demand writes | ${p.write_unit * 1e6:.3f} per million write request units | as above, **not verified** |
| API Gateway WebSocket messages | ${p.websocket_message * 1e6:.2f} per million (first billion), sent or received, in 32 KB steps | [API Gateway pricing](https://aws.amazon.com/api-gateway/pricing/): the 32 KB metering and "sent and received" are in the page's text; the rate is rendered by a script and was **not verified** (taken from articles and an AWS re:Post question quoting the page) |
| API Gateway connection minutes | ${p.connection_minute * 1e6:.2f} per million | as above, **not verified** |

Counted, not modelled: invocations, DynamoDB calls, posts (botocore's `after-call` hook
on the handlers' boto3 session), and capacity units computed from the items' sizes by
DynamoDB's rules (moto's own `ConsumedCapacity` is a fixed 0.5 or 1 per call; shown as
"moto said"). Modelled: the billed duration = the handler's CPU time on this machine ×
{m.full_vcpu_mb:,} MB ÷ the function's memory (Lambda gives one vCPU at {m.full_vcpu_mb:,} MB)
+ {m.dynamodb_call_ms:.0f} ms per DynamoDB call + {m.post_ms:.0f} ms per round of
{m.parallel_posts} concurrent posts. Real durations need a run on AWS."""
