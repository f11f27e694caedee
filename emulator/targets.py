"""Where a deploy goes: the embedded emulator, LocalStack, or a real AWS account.

The one module that knows each target's endpoint and credentials; deploy, destroy,
the emulator and the tests all get their boto3 clients from :class:`Target`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ProfileNotFound,
)

LOCALSTACK_ENDPOINT = "http://localhost:4566"
# What the emulators accept; real AWS never sees these.
EMULATOR_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})


class TargetError(Exception):
    """The target can't be reached as configured; the message says what to do."""


@dataclass(frozen=True)
class Target:
    name: str  # local | localstack | aws
    region: str
    endpoint_url: str | None = None
    # (access key id, secret): an emulator account of its own; None for the default
    credentials: tuple[str, str] | None = None

    @classmethod
    def local(
        cls, endpoint_url: str, region: str, credentials: tuple[str, str] | None = None
    ) -> Target:
        return cls("local", region, endpoint_url, credentials)

    @classmethod
    def localstack(cls, region: str, endpoint_url: str = LOCALSTACK_ENDPOINT) -> Target:
        return cls("localstack", region, endpoint_url)

    @classmethod
    def aws(cls, region: str) -> Target:
        return cls("aws", region)

    @property
    def emulated(self) -> bool:
        return self.endpoint_url is not None

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
            return boto3.Session(region_name=self.region)
        key, secret = self.access_key
        return boto3.Session(
            region_name=self.region, aws_access_key_id=key, aws_secret_access_key=secret
        )

    def account_id(self) -> str:
        """Who we are on the target; turns the usual set-up mistakes into one-line advice."""
        try:
            return str(self.client("sts").get_caller_identity()["Account"])
        except EndpointConnectionError as exc:
            if self.name == "localstack":
                raise TargetError(
                    f"LocalStack is not running at {self.endpoint_url}: start it with "
                    "`docker compose -f docker-compose.localstack.yml up -d`"
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
        try:
            return self.session.client(
                service, endpoint_url=self.endpoint_url, config=_CLIENT_CONFIG
            )
        except ProfileNotFound as exc:
            raise TargetError(f"{exc}: check AWS_PROFILE (`aws configure list-profiles`)") from exc
