"""One-line explanations of AWS and LocalStack failures, and the offline LocalStack pieces."""

from __future__ import annotations

import io
import struct
import zipfile
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from botocore.stub import Stubber

from emulator.targets import Target, explain, fail
from scripts.localstack import no_op_agent_jar

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
