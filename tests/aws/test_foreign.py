"""Resources under our names that this stack didn't make: deploy refuses to start,
destroy leaves them alone, and both name each one with its tags."""

from __future__ import annotations

import io
import json
from pathlib import Path

from emulator.deploy import functions, tables
from emulator.deploy.cdn import OAC_SETTINGS, headers_policy_config
from emulator.deploy.executor import Context
from emulator.deploy.models import Names, Options, Report
from emulator.stack import Stack
from scripts import deploy as deploy_command
from scripts import destroy as destroy_command
from tests.aws.behaviours import Aws
from tests.aws.conftest import AWS_OPTIONS, small_stack

THEIRS = {"owner": "someone-else"}


def make_theirs(stack: Stack, aws: Aws) -> dict[str, str]:
    """One resource of each kind under the stack's names, not tagged as the stack's.

    Returns each one's kind and name as deploy and destroy should name them."""
    target = aws.target
    account = target.account_id()
    names = Names(stack)
    tag_list = [{"Key": k, "Value": v} for k, v in THEIRS.items()]
    table = stack.table_name(stack.tables[0])
    dynamodb = aws.client("dynamodb")
    dynamodb.create_table(**tables.definition_of(stack.tables[0], table), Tags=tag_list)
    dynamodb.put_item(TableName=table, Item={"connectionId": {"S": "theirs"}})
    iam = aws.client("iam")
    role = iam.create_role(
        RoleName=stack.role_name,
        AssumeRolePolicyDocument=json.dumps(functions.LAMBDA_TRUST_POLICY),
        Tags=tag_list,
    )["Role"]["Arn"]
    function = stack.function_name(stack.functions[0])
    aws.client("lambda").create_function(
        FunctionName=function,
        Role=role,
        Runtime="python3.12",
        Handler="theirs.handler",
        Code={"ZipFile": b"PK\x05\x06" + b"\0" * 18},
        Tags=THEIRS,
    )
    aws.client("apigatewayv2").create_api(
        Name=stack.api_name,
        ProtocolType="WEBSOCKET",
        RouteSelectionExpression="$request.body.x",
        Tags=THEIRS,
    )
    bucket = stack.website_bucket(account)
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="theirs.txt", Body=b"keep me")
    group = functions.log_group(stack.function_name(stack.functions[1]))
    aws.client("logs").create_log_group(logGroupName=group, tags=THEIRS)
    alarm = names.alarm(stack.function_name(stack.functions[1]), "error rate over 1%")
    aws.client("cloudwatch").put_metric_alarm(
        AlarmName=alarm,
        Namespace="Theirs",
        MetricName="Theirs",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanThreshold",
        Tags=tag_list,
    )
    aws.client("sns").create_topic(Name=names.topic, Tags=tag_list)
    aws.client("cloudwatch").put_dashboard(
        DashboardName=names.dashboard, DashboardBody=json.dumps({"widgets": []})
    )
    cloudfront = aws.client("cloudfront")
    cloudfront.create_origin_access_control(
        OriginAccessControlConfig={
            "Name": names.origin_access_control,
            "Description": "theirs",
            **OAC_SETTINGS,
        }
    )
    ctx = Context(stack, target, Options(), Report(out=None), dry_run=False)
    config = headers_policy_config(ctx, stack.website) if stack.website else {}
    cloudfront.create_response_headers_policy(
        ResponseHeadersPolicyConfig={**config, "Comment": "theirs"}
    )
    distribution = cloudfront.create_distribution_with_tags(
        DistributionConfigWithTags={
            "DistributionConfig": {
                "CallerReference": "theirs",
                "Comment": names.distribution,
                "Enabled": True,
                "Origins": {
                    "Quantity": 1,
                    "Items": [
                        {
                            "Id": "theirs",
                            "DomainName": f"{bucket}.s3.amazonaws.com",
                            "S3OriginConfig": {"OriginAccessIdentity": ""},
                        }
                    ],
                },
                "DefaultCacheBehavior": {
                    "TargetOriginId": "theirs",
                    "ViewerProtocolPolicy": "allow-all",
                    "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6",
                },
            },
            "Tags": {"Items": tag_list},
        }
    )["Distribution"]["Id"]
    aws.client("budgets").create_budget(
        AccountId=account,
        Budget={
            "BudgetName": names.budget,
            "BudgetLimit": {"Amount": "1000", "Unit": "USD"},
            "TimeUnit": "MONTHLY",
            "BudgetType": "COST",
        },
        ResourceTags=tag_list,
    )
    return {
        "table": table,
        "role": stack.role_name,
        "function": function,
        "websocket api": stack.api_name,
        "bucket": bucket,
        "log group": group,
        "alarm": alarm,
        "topic": names.topic,
        "dashboard": names.dashboard,
        "access control": names.origin_access_control,
        "headers policy": names.headers_policy,
        "distribution": distribution,
        "budget": names.budget,
    }


def still_theirs(aws: Aws, made: dict[str, str]) -> None:
    """Each foreign resource is there, as it was made."""
    dynamodb = aws.client("dynamodb")
    assert dynamodb.scan(TableName=made["table"])["Count"] == 1
    assert aws.client("iam").get_role(RoleName=made["role"])
    assert aws.client("lambda").get_function(FunctionName=made["function"])["Configuration"][
        "Handler"
    ] == ("theirs.handler")
    assert any(
        a["Name"] == made["websocket api"] for a in aws.client("apigatewayv2").get_apis()["Items"]
    )
    assert (
        aws.client("s3").get_object(Bucket=made["bucket"], Key="theirs.txt")["Body"].read()
        == b"keep me"
    )
    assert aws.client("logs").describe_log_groups(logGroupNamePrefix=made["log group"])["logGroups"]
    assert aws.client("cloudwatch").describe_alarms(AlarmNames=[made["alarm"]])["MetricAlarms"]
    assert json.loads(
        aws.client("cloudwatch").get_dashboard(DashboardName=made["dashboard"])["DashboardBody"]
    ) == {"widgets": []}
    assert aws.client("cloudfront").get_distribution(Id=made["distribution"])


def test_destroy_and_deploy_leave_foreign_resources_alone(
    aws: Aws, tmp_path: Path, build_dir: Path
) -> None:
    """Thirteen foreign resources of our names: destroy names each and touches none;
    deploy names each and writes nothing."""
    stack = small_stack()
    target = aws.target
    made = make_theirs(stack, aws)
    out, err = io.StringIO(), io.StringIO()
    aws.calls.clear()
    status = destroy_command.run(
        stack,
        target,
        AWS_OPTIONS,
        out=out,
        err=err,
        outputs=tmp_path / "o.json",
        clients=aws.client,
    )
    assert status == 1
    line = err.getvalue().strip()
    assert line.count("\n") == 0
    assert line.startswith("error: left alone, not created by this stack")
    for kind, name in made.items():
        assert f"{kind} {name}" in line, kind
    assert "its tags: owner=someone-else" in line
    assert aws.writes == {}
    still_theirs(aws, made)

    aws.calls.clear()
    err = io.StringIO()
    status = deploy_command.run(
        stack,
        target,
        AWS_OPTIONS,
        out=io.StringIO(),
        err=err,
        build_dir=build_dir,
        outputs=tmp_path / "o.json",
        clients=aws.client,
    )
    assert status == 1
    line = err.getvalue().strip()
    assert "nothing was changed" in line
    for kind, name in made.items():
        assert f"{kind} {name}" in line, kind
    assert aws.writes == {}
    still_theirs(aws, made)


def test_untagged_resources_are_not_ours_either(aws: Aws, tmp_path: Path) -> None:
    """An untagged table of our name (the very table we'd make) is refused, not adopted."""
    stack = small_stack()
    name = stack.table_name(stack.tables[0])
    dynamodb = aws.client("dynamodb")
    dynamodb.create_table(**tables.definition_of(stack.tables[0], name))
    out, err = io.StringIO(), io.StringIO()
    outputs = tmp_path / "o.json"
    status = destroy_command.run(
        stack, aws.target, AWS_OPTIONS, out=out, err=err, outputs=outputs, clients=aws.client
    )
    assert status == 1
    assert f"table {name} (its tags: none)" in err.getvalue()
    assert dynamodb.describe_table(TableName=name)
