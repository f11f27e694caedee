"""One-line explanations of AWS and LocalStack failures, and the offline LocalStack pieces."""

from __future__ import annotations

import io
import struct
import zipfile
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, WaiterError
from botocore.stub import Stubber

from emulator.targets import Target, explain, fail
from scripts.localstack_offline import no_op_agent_jar

LOCALSTACK = Target.localstack("us-east-1", "http://127.0.0.1:1")
AWS = Target.aws("eu-west-1")


def failure(target: Target, service: str, operation: str, code: str, status: int) -> ClientError:
    """The exception a call raises when the service answers with this error (no network)."""
    client = target.client(service)
    with Stubber(client) as stubber:
        stubber.add_client_error(operation, service_error_code=code, http_status_code=status)
        call: Any = getattr(client, operation)
        with pytest.raises(ClientError) as caught:
            call()
    return caught.value


def test_api_gateway_v2_missing_from_the_plan_says_what_to_do() -> None:
    """LocalStack's 501 for apigatewayv2 names the plan and the command that copes."""
    line = explain(
        failure(LOCALSTACK, "apigatewayv2", "get_apis", "InternalFailure", 501), LOCALSTACK
    )
    assert line is not None
    assert "free plan has no API Gateway v2" in line
    assert "`make localstack`" in line


def test_dynamodb_that_failed_to_start_points_at_the_offline_path() -> None:
    """A 500 from LocalStack's DynamoDB explains its downloads and the offline set-up."""
    line = explain(failure(LOCALSTACK, "dynamodb", "list_tables", "InternalError", 500), LOCALSTACK)
    assert line is not None
    assert line.startswith("DynamoDB in LocalStack failed to start")
    assert "make localstack-deps" in line


def test_access_denied_names_the_service_and_the_operation() -> None:
    """An AWS AccessDenied says which service refused which call, and what to check."""
    line = explain(failure(AWS, "iam", "list_roles", "AccessDenied", 403), AWS)
    assert line is not None
    assert line.startswith("IAM denied ListRoles")
    assert "aws sts get-caller-identity" in line


def test_any_other_refusal_keeps_code_and_message_on_one_line() -> None:
    """An unexpected error code still names the service, the call and the next step."""
    line = explain(failure(AWS, "lambda", "list_functions", "ServiceException", 400), AWS)
    assert line is not None
    assert line.startswith("Lambda in AWS refused ListFunctions (ServiceException")
    assert "\n" not in line
    assert "--debug" in line


def test_localstack_not_running_says_how_to_start_it() -> None:
    """No answer at LocalStack's endpoint points at make localstack-up."""
    exc = EndpointConnectionError(endpoint_url="http://127.0.0.1:1/")
    assert explain(exc, LOCALSTACK) == (
        "LocalStack is not running at http://127.0.0.1:1: start it with `make localstack-up`"
    )


def test_a_bug_is_not_explained_away() -> None:
    """An exception that is no AWS failure keeps its traceback, as does --debug."""
    assert explain(KeyError("x"), AWS) is None
    with pytest.raises(KeyError):
        fail(KeyError("x"), AWS)
    exc = EndpointConnectionError(endpoint_url="http://127.0.0.1:1/")
    with pytest.raises(EndpointConnectionError):
        fail(exc, LOCALSTACK, debug=True)
    out = io.StringIO()
    assert fail(exc, LOCALSTACK, out=out) == 1
    assert out.getvalue().startswith("error: LocalStack is not running")


def test_the_no_op_agent_is_a_java_agent_jar() -> None:
    """The stand-in for LocalStack's DynamoDB agent names its premain class, in Java 17 format."""
    with zipfile.ZipFile(io.BytesIO(no_op_agent_jar())) as jar:
        manifest = jar.read("META-INF/MANIFEST.MF").decode()
        class_file = jar.read("NoOpAgent.class")
    assert "Premain-Class: NoOpAgent\r\n" in manifest
    magic, _, major = struct.unpack(">IHH", class_file[:8])
    assert (magic, major) == (0xCAFEBABE, 61)
    assert b"premain" in class_file
    assert b"(Ljava/lang/String;)V" in class_file
    assert no_op_agent_jar() == no_op_agent_jar()  # same bytes every time: no needless rewrite


def test_access_denied_keeps_awss_own_words() -> None:
    """AWS's message (a missing permission, an account setting) stays in the line."""
    exc = ClientError(
        {
            "Error": {
                "Code": "AccessDenied",
                "Message": "User: arn:aws:iam::1:user/x is not authorized to perform: "
                "s3:PutBucketPolicy because public policies are blocked by the "
                "BlockPublicPolicy block public access setting.",
                "Service": "s3",
            },
            "ResponseMetadata": {"HTTPStatusCode": 403},
        },
        "PutBucketPolicy",
    )
    line = explain(exc, AWS)
    assert line is not None
    assert line.startswith("S3 denied PutBucketPolicy (AccessDenied: User: arn:aws:iam::1:user/x")
    assert "BlockPublicPolicy block public access setting." in line
    assert "\n" not in line


def test_a_waiter_that_gives_up_is_one_line() -> None:
    """A resource that never got ready names the service and says to run again later."""
    exc = WaiterError(name="DistributionDeployed", reason="Max attempts exceeded", last_response={})
    assert explain(exc, AWS) == (
        "CloudFront in AWS did not get ready (DistributionDeployed: Max attempts exceeded): it "
        "is still in progress: run the same command again later, it resumes there"
    )


def test_only_localstacks_501_means_a_service_is_missing() -> None:
    """AWS and the embedded emulator offer every service without being asked."""
    assert AWS.offers("cloudfront")
    assert Target.local("http://127.0.0.1:1", "us-east-1").offers("budgets")


def test_an_account_known_is_not_asked_for() -> None:
    """An embedded emulator's account, known when it was made, needs no call to STS."""
    target = Target.local("http://127.0.0.1:1", "us-east-1", account="210987654321")
    assert target.account_id() == "210987654321"
