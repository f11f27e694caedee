"""Where a deploy goes: the embedded emulator, LocalStack, or a real AWS account.

The one module that knows each target's endpoint and credentials; deploy, destroy,
the emulator and the tests all get their boto3 clients from :class:`Target`. A target
may keep its WebSocket API's control plane elsewhere (:attr:`Target.api_home`: LocalStack
without API Gateway v2 beside the embedded one). :func:`explain` turns a failure against
any target into one line naming the service and the next step.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, TextIO

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    ProfileNotFound,
    ReadTimeoutError,
    WaiterError,
)

from emulator import model_files

LOCALSTACK_ENDPOINT = "http://localhost:4566"
# What the emulators accept; real AWS never sees these.
EMULATOR_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
_PROBE_CONFIG = Config(retries={"mode": "standard", "max_attempts": 1})
# The services whose control plane can live apart from the target's (see Target.api_home).
API_SERVICES = ("apigatewayv2",)
SERVICE_NAMES = {
    "apigatewayv2": "API Gateway v2",
    "budgets": "AWS Budgets",
    "cloudfront": "CloudFront",
    "cloudwatch": "CloudWatch",
    "dynamodb": "DynamoDB",
    "iam": "IAM",
    "kms": "KMS",
    "lambda": "Lambda",
    "logs": "CloudWatch Logs",
    "s3": "S3",
    "sns": "SNS",
    "sts": "STS",
}
# A cheap read per service, to ask a LocalStack whether its plan has the service.
_PROBES: dict[str, tuple[str, dict[str, Any]]] = {
    "apigatewayv2": ("get_apis", {"MaxResults": "1"}),
    "cloudfront": ("list_distributions", {"MaxItems": "1"}),
    "logs": ("describe_log_groups", {"limit": 1}),
    "cloudwatch": ("list_dashboards", {}),
    "sns": ("list_topics", {}),
    "budgets": ("describe_budgets", {"MaxResults": 1}),
}
LOCALSTACK_START = "start it with `make localstack-up`"
API_IN_EMBEDDED_CONTROL_PLANE = (
    "LocalStack has no API Gateway v2 (its free plan): the WebSocket API's definition "
    "(routes, integrations, authorizer, stage) goes to the embedded control plane; the "
    "gateway emulator serves it and runs the functions"
)


def botocore_session() -> botocore.session.Session:
    """A botocore session that shares the services' models with every other one.

    Each session would otherwise read the models from disk again: about a second for
    the dozen clients a deploy makes, paid by every new account a harness or test opens.
    """
    core = botocore.session.Session()
    core.register_component("data_loader", model_files.shared_loader())
    return core


def new_session(**settings: Any) -> boto3.Session:
    """A boto3 session whose clients share the services' models (:func:`botocore_session`)."""
    return boto3.Session(botocore_session=botocore_session(), **settings)


class TargetError(Exception):
    """The target can't be reached as configured; the message says what to do."""


@dataclass(frozen=True)
class Target:
    name: str  # local | localstack | aws
    region: str
    endpoint_url: str | None = None
    # (access key id, secret): an emulator account of its own; None for the default
    credentials: tuple[str, str] | None = None
    # Where the WebSocket API's definition lives when this target has no API Gateway v2
    # (LocalStack's free plan): the embedded control plane. None: on this target.
    api_home: Target | None = None
    # Attempts per call, throttling and 5xx answers retried with botocore's backoff.
    max_attempts: int = 5
    # The account, when whoever made the target knows it (an embedded emulator's account):
    # :meth:`account_id` then needs no call to STS.
    account: str | None = None
    # Gives a new client of this target another way to send its requests: the embedded
    # control plane's, in process (:mod:`emulator.controlplane_local`).
    transport: Callable[..., Any] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def local(
        cls,
        endpoint_url: str,
        region: str,
        credentials: tuple[str, str] | None = None,
        account: str | None = None,
        transport: Callable[..., Any] | None = None,
    ) -> Target:
        return cls("local", region, endpoint_url, credentials, account=account, transport=transport)

    @classmethod
    def localstack(cls, region: str, endpoint_url: str = LOCALSTACK_ENDPOINT) -> Target:
        return cls("localstack", region, endpoint_url)

    @classmethod
    def aws(cls, region: str) -> Target:
        return cls("aws", region)

    @property
    def emulated(self) -> bool:
        return self.endpoint_url is not None

    def with_api_home(self, home: Target) -> Target:
        """This target, with the WebSocket API's control plane on ``home``."""
        return replace(self, api_home=home)

    def has_websocket_apis(self) -> bool:
        """Whether the target answers API Gateway v2 (LocalStack's free plan does not)."""
        return self._answers("apigatewayv2")

    def offers(self, service: str) -> bool:
        """Whether the target has a service: AWS and moto do; LocalStack is asked."""
        if self.name != "localstack" or (service in API_SERVICES and self.api_home):
            return True
        return self._answers(service)

    def _answers(self, service: str) -> bool:
        """Ask the service a cheap question; only LocalStack's 501 means it isn't there.

        LocalStack answers a service outside the caller's plan with HTTP 501; that
        status, not the message, is what decides.
        """
        probe = self.session.client(service, endpoint_url=self.endpoint_url, config=_PROBE_CONFIG)
        operation, arguments = _PROBES[service]
        if service == "budgets":
            arguments = {**arguments, "AccountId": self.account_id()}
        try:
            getattr(probe, operation)(**arguments)
        except ClientError as exc:
            return bool(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") != 501)
        return True

    @property
    def access_key(self) -> tuple[str, str]:
        """The credentials an emulated target's functions and clients use."""
        if self.credentials is not None:
            return self.credentials
        return EMULATOR_CREDENTIALS["aws_access_key_id"], EMULATOR_CREDENTIALS[
            "aws_secret_access_key"
        ]

    @cached_property
    def session(self) -> boto3.Session:
        if not self.emulated:
            return new_session(region_name=self.region)
        key, secret = self.access_key
        return new_session(
            region_name=self.region, aws_access_key_id=key, aws_secret_access_key=secret
        )

    def account_id(self) -> str:
        """Who we are on the target; turns the usual set-up mistakes into one-line advice."""
        if self.account is not None:
            return self.account
        try:
            return str(self.client("sts").get_caller_identity()["Account"])
        except EndpointConnectionError as exc:
            if self.name == "localstack":
                raise TargetError(
                    f"LocalStack is not running at {self.endpoint_url}: {LOCALSTACK_START}"
                ) from exc
            raise TargetError(
                f"can't reach AWS in region {self.region!r}: check REGION= (or --region) "
                "and your network"
            ) from exc
        except NoCredentialsError as exc:
            raise TargetError(
                "no AWS credentials found: run `aws configure` or set AWS_PROFILE"
            ) from exc
        except NoRegionError as exc:
            raise TargetError("no region: set REGION=eu-west-1 (or --region)") from exc
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("InvalidClientTokenId", "ExpiredToken", "SignatureDoesNotMatch"):
                raise TargetError(
                    f"AWS refused the credentials ({code}): refresh them (e.g. `aws sso login`)"
                ) from exc
            raise

    def client(self, service: str) -> Any:
        if service in API_SERVICES and self.api_home is not None:
            return self.api_home.client(service)
        try:
            config = Config(retries={"mode": "standard", "max_attempts": self.max_attempts})
            client = self.session.client(service, endpoint_url=self.endpoint_url, config=config)
        except ProfileNotFound as exc:
            raise TargetError(f"{exc}: check AWS_PROFILE (`aws configure list-profiles`)") from exc
        client.meta.events.register("after-call", _name_the_service)
        if self.transport is not None:
            self.transport(client)
        return client


def fail(exc: BaseException, target: Target, debug: bool = False, out: TextIO = sys.stderr) -> int:
    """Print the one-line explanation of a failure and return 1.

    With ``debug``, or for an exception that is no AWS failure (a bug), re-raise it so
    the traceback shows.
    """
    line = explain(exc, target)
    if debug or line is None:
        raise exc
    print(f"error: {line}", file=out)
    return 1


def _name_the_service(parsed: dict[str, Any], model: Any, **_: Any) -> None:
    """Mark an error response with the service that sent it, for :func:`explain`."""
    if isinstance(parsed.get("Error"), dict):
        parsed["Error"].setdefault("Service", model.service_model.service_name)


def explain(exc: BaseException, target: Target) -> str | None:
    """One actionable line for a failure against the target: which service, what next.

    None when ``exc`` is not an AWS or connection failure (a bug: show its traceback).
    """
    where = "LocalStack" if target.name == "localstack" else "AWS"
    if isinstance(exc, TargetError):
        return str(exc)
    if isinstance(exc, EndpointConnectionError):
        if target.name == "localstack":
            return f"LocalStack is not running at {target.endpoint_url}: {LOCALSTACK_START}"
        if target.emulated:
            return f"the emulator at {target.endpoint_url} stopped answering: start it again"
        return (
            f"can't reach AWS at {exc.kwargs.get('endpoint_url')}: check REGION= and your network"
        )
    if isinstance(exc, ReadTimeoutError | ConnectTimeoutError):
        return (
            f"{where} did not answer in time ({exc.kwargs.get('endpoint_url')}): "
            "run again; on a busy machine it may need a moment"
        )
    if isinstance(exc, WaiterError):
        return _explain_waiter(exc, where)
    if isinstance(exc, ParamValidationError):
        return f"a request {where} would refuse, caught before sending: {exc}"
    if isinstance(exc, ClientError):
        return _explain_client_error(exc, target, where)
    if isinstance(exc, BotoCoreError):
        return f"{where}: {exc}; run again with --debug for the details"
    return None


def _explain_waiter(exc: WaiterError, where: str) -> str:
    waiter = str(exc.kwargs.get("name", ""))
    service = next(
        (SERVICE_NAMES[s] for prefix, s in _WAITER_SERVICES if waiter.startswith(prefix)), where
    )
    last = exc.last_response or {}
    reason = (last.get("Configuration") or {}).get("StateReason") or exc.kwargs.get("reason")
    if str(reason).startswith("Max attempts exceeded"):
        advice = "it is still in progress: run the same command again later, it resumes there"
    else:
        advice = "fix what it says and run again"
    return f"{service} in {where} did not get ready ({waiter}: {reason}): {advice}"


_WAITER_SERVICES = (
    ("Table", "dynamodb"),
    ("Function", "lambda"),
    ("Role", "iam"),
    ("Bucket", "s3"),
    ("Distribution", "cloudfront"),
)


def _explain_client_error(exc: ClientError, target: Target, where: str) -> str:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    service_id = str(error.get("Service", ""))
    if service_id in API_SERVICES and target.api_home is not None:
        target, where = target.api_home, "the embedded control plane"
    service = SERVICE_NAMES.get(service_id, service_id or "the service")
    operation = exc.operation_name
    # AWS's own words say what is missing (a permission, an account setting): keep them.
    message = " ".join(str(error.get("Message") or "").split())
    message = message if len(message) <= 300 else message[:299] + "…"
    said = f"{code}: {message}" if message else code
    if target.name == "localstack":
        if status == 501 and service_id == "apigatewayv2":
            return (
                "LocalStack's free plan has no API Gateway v2: `make localstack` keeps the "
                "WebSocket API in its embedded control plane; a plan with WebSocket APIs "
                "(Base or above, LOCALSTACK_AUTH_TOKEN) serves it in LocalStack"
            )
        if status == 501:
            return (
                f"LocalStack does not offer {service} {operation} (not in this plan or not "
                "emulated): use a LocalStack plan that has it (LOCALSTACK_AUTH_TOKEN)"
            )
        if service_id == "dynamodb" and status is not None and status >= 500:
            return (
                "DynamoDB in LocalStack failed to start (it downloads DynamoDB Local and Java "
                "on first use): without internet, `make localstack-deps` lays them out "
                "offline; LocalStack's log says more (.localstack/localstack.log for "
                "`make localstack-up`)"
            )
        if status is not None and status >= 500:
            return (
                f"{service} in LocalStack failed on {operation} ({said}): see LocalStack's log "
                "(.localstack/localstack.log for `make localstack-up`), then run again"
            )
    if code in (
        "InvalidClientTokenId",
        "ExpiredToken",
        "ExpiredTokenException",
        "UnrecognizedClientException",
    ):
        return f"{where} refused the credentials ({said}): refresh them (e.g. `aws sso login`)"
    if code in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation") or status == 403:
        return (
            f"{service} denied {operation} ({said}): allow it for these credentials "
            "(`aws sts get-caller-identity` shows whose they are), or change the account "
            "setting AWS names"
        )
    if code in (
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "LimitExceededException",
    ):
        return f"{service} throttled {operation} ({said}): wait a minute and run again"
    return (
        f"{service} in {where} refused {operation} ({said}): fix that and run "
        "again (--debug shows the traceback)"
    )
