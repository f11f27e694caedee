"""Deploy and destroy against the test target, counting the calls they make."""

from __future__ import annotations

import io
import json
import secrets
import shutil
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ParamValidationError

from emulator.deploy import (
    Deployer,
    DeployError,
    ForeignResources,
    Outputs,
    Report,
    functions,
    tables,
)
from emulator.destroy import Destroyer
from emulator.harness import Harness
from emulator.stack import Stack, StackError, Throttle
from emulator.targets import Target
from scripts.stack import FUNCTIONS, HANDLERS_DIR, chat_stack
from tests.aws.behaviours import Aws


class CallCounter:
    """Counts every AWS operation a deploy makes, through botocore's event hooks."""

    def __init__(self, target: Target) -> None:
        self.aws = Aws(target)

    @property
    def calls(self) -> Counter[str]:
        return Counter(operation for _, operation in self.aws.calls)

    @property
    def writes(self) -> Counter[str]:
        return self.aws.writes


@pytest.fixture
def target(stack: Harness) -> Target:
    assert stack.target is not None
    return stack.target


@pytest.fixture
def fresh_stack() -> Stack:
    return chat_stack(prefix=f"d{secrets.token_hex(3)}", stage="prod")


def deploy(stack: Stack, target: Target) -> tuple[Outputs, Report, CallCounter]:
    report = Report(out=io.StringIO())
    counter = CallCounter(target)
    try:
        return Deployer(stack, target, report).deploy(), report, counter
    finally:
        counter.aws.close()


def test_second_deploy_changes_nothing(fresh_stack: Stack, target: Target) -> None:
    """A first deploy creates every resource; a second makes no write call at all."""
    _, first, first_calls = deploy(fresh_stack, target)
    created = Counter(kind for action, kind, _ in first.steps if action == "created")
    assert created["table"] == 3
    assert created["function"] == len(fresh_stack.functions)
    assert created["route"] == len(fresh_stack.functions)
    assert created["websocket api"] == created["stage"] == created["bucket"] == 1
    assert first_calls.writes["CreateFunction"] == len(fresh_stack.functions)

    _, second, second_calls = deploy(fresh_stack, target)
    assert second.changes == []
    assert second_calls.writes == Counter()


def test_only_the_embedded_emulator_goes_without_alarms_topic_and_dashboard(
    fresh_stack: Stack, target: Target
) -> None:
    """Locally nothing evaluates an alarm or shows a dashboard: deploy makes none of them
    (nor their topic), and so calls none of those services. LocalStack gets them (and AWS:
    tests/aws/test_made.py)."""
    _, report, calls = deploy(fresh_stack, target)
    kinds = {kind for _, kind, _ in report.steps}
    made = {op for op in calls.calls if op in {"PutMetricAlarm", "CreateTopic", "PutDashboard"}}
    if target.name == "local":
        assert not kinds & {"alarm", "topic", "dashboard"}
        assert not made
        assert calls.calls["DescribeAlarms"] == calls.calls["ListTopics"] == 0
    else:
        assert {"alarm", "topic", "dashboard"} <= kinds
        assert made == {"PutMetricAlarm", "CreateTopic", "PutDashboard"}


def test_deploy_restores_what_was_deleted_by_hand(fresh_stack: Stack, target: Target) -> None:
    """A route and a table removed by hand come back on the next deploy, nothing else moves."""
    outputs, _, _ = deploy(fresh_stack, target)
    apigw = target.client("apigatewayv2")
    route = next(
        r for r in apigw.get_routes(ApiId=outputs.api_id)["Items"] if r["RouteKey"] == "sendMessage"
    )
    apigw.delete_route(ApiId=outputs.api_id, RouteId=route["RouteId"])
    messages_table = outputs.tables["MESSAGES_TABLE"]
    target.client("dynamodb").delete_table(TableName=messages_table)

    _, report, calls = deploy(fresh_stack, target)
    assert sorted((a, k, n) for a, k, n in report.changes) == [
        ("created", "route", "sendMessage"),
        ("created", "table", messages_table),
    ]
    assert calls.writes == Counter({"CreateRoute": 1, "CreateTable": 1})


def test_changing_one_handler_updates_only_its_function(
    fresh_stack: Stack, target: Target, tmp_path: Path
) -> None:
    """Each function has its own package: editing one handler updates one function."""
    source = tmp_path / "handlers"
    shutil.copytree(HANDLERS_DIR, source, ignore=shutil.ignore_patterns("__pycache__"))
    stack = replace(fresh_stack, source=source)
    deploy(stack, target)
    entry = source / "send_message.py"
    entry.write_text(entry.read_text() + "\n# a change\n")
    _, report, calls = deploy(stack, target)
    assert report.changes == [("updated", "function", stack.function_name(FUNCTIONS[5]))]
    assert calls.writes == Counter({"UpdateFunctionCode": 1})

    core = source / "chat" / "errors.py"
    core.write_text(core.read_text() + "\n# a change to the core\n")
    _, report, calls = deploy(stack, target)
    assert calls.writes == Counter({"UpdateFunctionCode": len(stack.functions)})


def test_dry_run_prints_the_plan_and_writes_nothing(fresh_stack: Stack, target: Target) -> None:
    """--dry-run on an empty account plans every creation and makes no write call."""
    out = io.StringIO()
    deployer = Deployer(fresh_stack, target, Report(out=out, dry_run=True), dry_run=True)
    counter = CallCounter(target)
    with counter.aws:
        deployer.deploy()
    assert counter.writes == Counter()
    assert "would create  table" in out.getvalue()
    assert "would create  function" in out.getvalue()
    assert {a for a, _, _ in deployer.report.steps} == {"created"}
    assert target.client("apigatewayv2").get_apis()["Items"] == [] or all(
        api["Name"] != fresh_stack.api_name
        for api in target.client("apigatewayv2").get_apis()["Items"]
    )
    # After a real deploy, a dry run plans nothing.
    deploy(fresh_stack, target)
    quiet = Deployer(fresh_stack, target, Report(out=io.StringIO(), dry_run=True), dry_run=True)
    quiet.deploy()
    assert quiet.report.changes == []


def test_resources_that_are_not_ours_are_left_alone(fresh_stack: Stack, target: Target) -> None:
    """A table or function by our name but not ours stops deploy before any write."""
    dynamodb = target.client("dynamodb")
    taken = fresh_stack.table_name(fresh_stack.tables[0])
    definition = tables.definition_of(fresh_stack.tables[0], taken)
    dynamodb.create_table(**definition)  # the very table we'd make, but untagged
    dynamodb.put_item(TableName=taken, Item={"connectionId": {"S": "someone else's"}})
    with pytest.raises(ForeignResources, match=rf"table {taken} \(its tags: none\)") as refused:
        deploy(fresh_stack, target)
    assert "nothing was changed" in str(refused.value)
    assert dynamodb.scan(TableName=taken)["Count"] == 1
    assert all(api["Name"] != fresh_stack.api_name for api in _apis(target))
    dynamodb.delete_table(TableName=taken)

    deploy(fresh_stack, target)
    other = replace(fresh_stack, prefix=fresh_stack.prefix + "x")
    awslambda = target.client("lambda")
    function = other.function_name(other.functions[0])
    awslambda.create_function(
        FunctionName=function,
        Role=awslambda.get_function(
            FunctionName=fresh_stack.function_name(fresh_stack.functions[0])
        )["Configuration"]["Role"],
        Runtime="python3.12",
        Handler="x.handler",
        Code={"ZipFile": b"PK\x05\x06" + b"\0" * 18},
        Tags={"owner": "bob"},
    )
    with pytest.raises(ForeignResources, match=rf"function {function} \(its tags: owner=bob\)"):
        deploy(other, target)
    assert awslambda.get_function(FunctionName=function)["Configuration"]["Handler"] == "x.handler"


def test_our_table_with_another_key_is_refused(fresh_stack: Stack, target: Target) -> None:
    """A table of ours whose key the stack has changed can't be updated: deploy says so."""
    deploy(fresh_stack, target)
    table = fresh_stack.tables[2]
    changed = replace(fresh_stack, tables=(*fresh_stack.tables[:2], replace(table, range_key="at")))
    with pytest.raises(DeployError, match="exists with another key schema"):
        deploy(changed, target)


def _apis(target: Target) -> list[dict[str, Any]]:
    return list(target.client("apigatewayv2").get_apis()["Items"])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"prefix": "Bad_Prefix"}, "prefix"),
        ({"prefix": "x" * 21}, "prefix"),
        ({"stage": "no spaces"}, "stage"),
        ({"region": "mars"}, "region"),
    ],
)
def test_names_aws_would_refuse_are_refused_up_front(options: dict[str, str], message: str) -> None:
    """Prefix, stage and region are checked before any call is made."""
    with pytest.raises(StackError, match=message):
        chat_stack(**options)


def test_policy_names_only_this_stacks_resources(fresh_stack: Stack, target: Target) -> None:
    """The role's inline policy grants these tables, this API's connections and own logs."""
    outputs, _, _ = deploy(fresh_stack, target)
    document = target.client("iam").get_role_policy(
        RoleName=fresh_stack.role_name, PolicyName="chat-access"
    )["PolicyDocument"]
    if isinstance(document, str):
        document = json.loads(document)
    resources = [
        resource
        for statement in document["Statement"]
        for resource in (
            statement["Resource"]
            if isinstance(statement["Resource"], list)
            else [statement["Resource"]]
        )
    ]
    assert "*" not in resources
    for resource in resources:
        assert (
            any(name in resource for name in outputs.tables.values())
            or f"{outputs.api_id}/{fresh_stack.stage}/" in resource
            or any(f"/aws/lambda/{name}" in resource for name in outputs.functions.values())
        ), resource
    actions = {a for s in document["Statement"] for a in _list(s["Action"])}
    assert "dynamodb:Scan" not in actions
    assert "execute-api:ManageConnections" in actions


def test_client_configuration_points_at_the_api(fresh_stack: Stack, target: Target) -> None:
    """config.js in the bucket names the WebSocket URL; files have content types."""
    outputs, _, _ = deploy(fresh_stack, target)
    s3 = target.client("s3")
    config = s3.get_object(Bucket=outputs.bucket, Key="config.js")["Body"].read().decode()
    assert json.dumps(outputs.websocket_url) in config
    assert outputs.websocket_url.endswith(f"/{fresh_stack.stage}")
    head = s3.head_object(Bucket=outputs.bucket, Key="index.html")
    assert head["ContentType"] == "text/html; charset=utf-8"
    assert head["CacheControl"] == "no-cache"


def test_destroy_then_deploy_and_destroy_twice(fresh_stack: Stack, target: Target) -> None:
    """Destroy removes everything; a second destroy finds nothing; deploy works again."""
    deploy(fresh_stack, target)
    report = Report(out=io.StringIO())
    Destroyer(fresh_stack, target, report).destroy()
    assert {a for a, _, _ in report.steps} == {"deleted"}
    again = Report(out=io.StringIO())
    Destroyer(fresh_stack, target, again).destroy()
    assert {a for a, _, _ in again.steps} == {"absent"}
    _, redeploy, _ = deploy(fresh_stack, target)
    assert {a for a, _, _ in redeploy.steps} == {"created"}
    Destroyer(fresh_stack, target, Report(out=io.StringIO())).destroy()


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize(
    ("change", "parameter"),
    [({"timeout": 0}, "Timeout"), ({"memory": 64}, "MemorySize")],
)
def test_botocore_validates_what_aws_would_refuse(
    fresh_stack: Stack, target: Target, change: dict[str, int], parameter: str
) -> None:
    """Deploy's calls go through botocore's request validation, as they would to AWS.

    A Stack refuses these values itself; the Deployer is handed one directly here.
    """
    with pytest.raises(StackError):
        replace(fresh_stack, functions=(replace(fresh_stack.functions[0], **change),))
    broken = replace(fresh_stack.functions[0], **change)  # type: ignore[arg-type]
    deployer = Deployer(fresh_stack, target, Report(out=None))
    context = deployer.context
    context.refs.account = target.account_id()
    (step,) = functions.plan_function(context, broken, deployer.build(broken), None)
    assert step.run is not None
    with pytest.raises(ParamValidationError, match=parameter):
        step.run()
    assert not any(
        f["FunctionName"] == fresh_stack.function_name(broken)
        for f in target.client("lambda").list_functions()["Functions"]
    )


def test_local_stack_writes_its_outputs_file(stack: Harness) -> None:
    """make local (and make localstack) leave the same machine-readable outputs as deploy."""
    assert stack.gateway is not None
    assert stack.website is not None
    assert stack.settings.outputs_path is not None
    written = Outputs.read(stack.settings.outputs_path)
    assert written.websocket_url == stack.gateway.url
    assert written.website_url == stack.website.url
    assert written.functions["sendMessage"].endswith("chat-send-message")


def test_stage_throttling_is_deployed_and_updated(fresh_stack: Stack, target: Target) -> None:
    """The stack's throttle lands on the stage; a change updates it; a repeat changes nothing."""
    outputs, _, _ = deploy(fresh_stack, target)
    apigw = target.client("apigatewayv2")
    stage = apigw.get_stage(ApiId=outputs.api_id, StageName=fresh_stack.stage)
    assert fresh_stack.throttle is not None
    assert stage["DefaultRouteSettings"]["ThrottlingBurstLimit"] == fresh_stack.throttle.burst
    slower = replace(fresh_stack, throttle=Throttle(burst=5, rate=1.0))
    _, report, _ = deploy(slower, target)
    assert ("updated", "stage", fresh_stack.stage) in report.changes
    stage = apigw.get_stage(ApiId=outputs.api_id, StageName=fresh_stack.stage)
    assert stage["DefaultRouteSettings"]["ThrottlingBurstLimit"] == 5
    _, again, _ = deploy(slower, target)
    assert again.changes == []
