"""AWS's documented errors on the real deploy and destroy paths: retried to success, or
one line that keeps AWS's own message and says what to do, never a traceback."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from emulator.stack import Stack
from emulator.targets import Target
from scripts import deploy as deploy_command
from scripts import destroy as destroy_command
from tests.aws.behaviours import Aws, Interrupted
from tests.aws.conftest import AWS_OPTIONS, plan_of, small_stack
from tests.aws.played import (
    AccountBlocksPublicAccess,
    Interrupt,
    Refuse,
    SlowStates,
    Throttle,
)

NOT_ASSUMABLE = "The role defined for the function cannot be assumed by Lambda."
BUSY_BUCKET = "A conflicting conditional operation is currently in progress against this resource."


def run_deploy(stack: Stack, aws: Aws, tmp_path: Path, build_dir: Path) -> tuple[int, str]:
    """scripts/deploy.py's run, as `make aws` calls it: its exit status and error output."""
    err = io.StringIO()
    status = deploy_command.run(
        stack,
        aws.target,
        AWS_OPTIONS,
        out=io.StringIO(),
        err=err,
        build_dir=build_dir,
        outputs=tmp_path / "outputs.json",
        clients=aws.client,
    )
    return status, err.getvalue()


def run_destroy(stack: Stack, aws: Aws, tmp_path: Path) -> tuple[int, str]:
    err = io.StringIO()
    status = destroy_command.run(
        stack,
        aws.target,
        AWS_OPTIONS,
        out=io.StringIO(),
        err=err,
        outputs=tmp_path / "outputs.json",
        clients=aws.client,
    )
    return status, err.getvalue()


def one_line(err: str) -> str:
    """The error output, which must be one `error:` line and no traceback."""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    return lines[0]


def test_a_role_lambda_cant_assume_yet_is_waited_out(
    aws: Aws, deploy: Callable[..., Any], build_dir: Path
) -> None:
    """IAM propagation: CreateFunction refused three times, then deploy completes."""
    refused = Refuse(
        "lambda", "CreateFunction", "InvalidParameterValueException", NOT_ASSUMABLE, times=3
    ).install(aws)
    stack = small_stack()
    deploy(stack, aws)
    assert refused.refused == 3
    assert plan_of(stack, aws, build_dir).changes == []


def test_a_busy_bucket_is_retried(aws: Aws, deploy: Callable[..., Any], build_dir: Path) -> None:
    """S3's 409 OperationAborted right after creating the bucket is retried until it passes."""
    busy = [
        Refuse("s3", operation, "OperationAborted", BUSY_BUCKET, status=409, times=2).install(aws)
        for operation in ("PutBucketTagging", "PutPublicAccessBlock", "PutBucketPolicy")
    ]
    stack = small_stack()
    deploy(stack, aws)
    assert [b.refused for b in busy] == [0, 2, 2]  # tags come with CreateBucket, as on AWS
    assert plan_of(stack, aws, build_dir).changes == []


def test_block_public_access_on_the_account_doesnt_matter(
    aws: Aws, deploy: Callable[..., Any]
) -> None:
    """With the account's Block Public Access on, the site deploys: its policy is not public."""
    AccountBlocksPublicAccess(aws)
    outputs, _ = deploy(small_stack(), aws)
    (policy,) = [params["Policy"] for _, op, params in aws.requests if op == "PutBucketPolicy"]
    (statement,) = json.loads(policy)["Statement"]
    assert statement["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    arn = statement["Condition"]["StringEquals"]["AWS:SourceArn"]
    assert arn.endswith(f"distribution/{outputs.distribution_id}")
    s3 = aws.client("s3")
    blocked = s3.get_public_access_block(Bucket=outputs.bucket)["PublicAccessBlockConfiguration"]
    assert all(blocked.values())


def test_access_denied_keeps_awss_message(aws: Aws, tmp_path: Path, build_dir: Path) -> None:
    """A refusal prints one line with AWS's own words (a new account must be verified)."""
    reason = (
        "Your account must be verified before you can add new CloudFront resources. To verify "
        "your account, please contact AWS Support and include this error message."
    )
    Refuse("cloudfront", "CreateDistributionWithTags", "AccessDenied", reason, status=403).install(
        aws
    )
    status, err = run_deploy(small_stack(), aws, tmp_path, build_dir)
    assert status == 1
    assert one_line(err).startswith(
        "error: CloudFront denied CreateDistributionWithTags "
        "(AccessDenied: Your account must be verified"
    )


def test_an_update_in_progress_is_waited_for(
    aws: Aws, deploy: Callable[..., Any], build_dir: Path
) -> None:
    """Lambda refuses a change while the last one is in progress: deploy waits for it."""
    stack = small_stack()
    deploy(stack, aws)
    slow = SlowStates(aws, reads=3)
    for function in stack.all_functions:  # as a run interrupted mid-update leaves them
        slow.functions[stack.function_name(function)] = ("LastUpdateStatus", 3)
    longer = tuple(replace(f, timeout=f.timeout + 1) for f in stack.functions)
    changed = replace(stack, functions=longer)
    _, report = deploy(changed, aws)
    assert {kind for _, kind, _ in report.changes} == {"function"}
    assert plan_of(changed, aws, build_dir).changes == []


@pytest.mark.parametrize("then", ["deploy", "destroy"])
def test_a_table_still_being_created_is_waited_for(
    then: str,
    aws: Aws,
    deploy: Callable[..., Any],
    destroy: Callable[..., Any],
    build_dir: Path,
) -> None:
    """A run stopped right after CreateTable leaves it CREATING: the next run waits for it."""
    stack = small_stack()
    slow = SlowStates(aws, reads=3)
    with aws.playing():
        Interrupt(after=1).install(aws)  # the first write is CreateTable
        with pytest.raises(Interrupted, match="CreateTable"):
            deploy(stack, aws)
    assert slow.tables == {stack.table_name(stack.tables[0]): 3}
    if then == "deploy":
        deploy(stack, aws)
        assert plan_of(stack, aws, build_dir).changes == []
    else:
        report = destroy(stack, aws)
        assert ("deleted", "table", stack.table_name(stack.tables[0])) in report.steps


def test_throttling_is_retried(aws: Aws, deploy: Callable[..., Any], build_dir: Path) -> None:
    """Throttled calls (Lambda's TooManyRequests, DynamoDB's Throttling) pass on retry."""
    throttles = [
        Throttle("lambda", "CreateFunction", "TooManyRequestsException", times=2).install(aws),
        Throttle("dynamodb", "CreateTable", "ThrottlingException", times=2).install(aws),
    ]
    stack = small_stack()
    deploy(stack, aws)
    assert [t.throttled for t in throttles] == [2, 2]
    assert plan_of(stack, aws, build_dir).changes == []


def test_throttling_that_lasts_is_one_line(
    new_account: Callable[..., Target],
    played: Callable[..., Aws],
    tmp_path: Path,
    build_dir: Path,
) -> None:
    """Throttled past botocore's attempts: one line naming the call, AWS's words and the wait."""
    aws = played(replace(new_account(), max_attempts=2))
    Throttle("lambda", "CreateFunction", "TooManyRequestsException", times=99).install(aws)
    status, err = run_deploy(small_stack(), aws, tmp_path, build_dir)
    assert status == 1
    assert one_line(err) == (
        "error: Lambda throttled CreateFunction (TooManyRequestsException: Rate exceeded): "
        "wait a minute and run again"
    )


def test_destroy_waits_for_cloudfront_to_disable(
    aws: Aws, deploy: Callable[..., Any], destroy: Callable[..., Any]
) -> None:
    """A distribution is disabled, waited on until Deployed, then deleted with its new ETag."""
    stack = small_stack()
    deploy(stack, aws)
    SlowStates(aws, reads=4)
    aws.calls.clear()
    report = destroy(stack, aws)
    cloudfront = [op for service, op in aws.calls if service == "cloudfront"]
    disabled = cloudfront.index("UpdateDistribution")
    deleted = cloudfront.index("DeleteDistribution")
    assert cloudfront[disabled + 1 : deleted].count("GetDistribution") >= 4
    assert ("deleted", "distribution", f"chat:stack={stack.stack_id} website") in report.steps
    assert aws.client("cloudfront").list_distributions()["DistributionList"].get("Items") is None


def test_cloudfront_that_never_settles_is_one_line(
    aws: Aws, deploy: Callable[..., Any], tmp_path: Path
) -> None:
    """A distribution that stays InProgress past the waiter: one line; destroy resumes later."""
    stack = small_stack()
    deploy(stack, aws)
    SlowStates(aws, reads=10_000)
    status, err = run_destroy(stack, aws, tmp_path)
    assert status == 1
    line = one_line(err)
    assert line.startswith("error: CloudFront in AWS did not get ready (DistributionDeployed")
    assert "run the same command again later" in line


def test_options_aws_would_refuse_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """LOG_RETENTION_DAYS, ALARM_EMAIL and BUDGET_USD are checked before any call."""
    for argv, message in (
        (["--log-retention-days", "10"], "LOG_RETENTION_DAYS=10"),
        (["--alarm-email", "nobody"], "ALARM_EMAIL='nobody'"),
        (["--budget-usd", "-1"], "BUDGET_USD=-1"),
    ):
        assert deploy_command.main(["--target", "aws", *argv]) == 1
        assert message in one_line(capsys.readouterr().err)


def test_bad_region_or_prefix_for_destroy_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """`make destroy REGION=mars` or a bad PREFIX: one line, no traceback (it was one)."""
    for argv, message in (
        (["--region", "mars"], "region 'mars'"),
        (["--prefix", "Bad_"], "prefix 'Bad_'"),
    ):
        assert destroy_command.main(["--target", "aws", *argv]) == 1
        assert message in one_line(capsys.readouterr().err)
