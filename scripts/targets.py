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

LOCALSTACK_ENDPOINT = "http://localhost:4566"
# What the emulators accept; real AWS never sees these.
EMULATOR_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})


@dataclass(frozen=True)
class Target:
    name: str  # local | localstack | aws
    region: str
    endpoint_url: str | None = None

    @classmethod
    def local(cls, endpoint_url: str, region: str) -> Target:
        return cls("local", region, endpoint_url)

    @classmethod
    def localstack(cls, region: str, endpoint_url: str = LOCALSTACK_ENDPOINT) -> Target:
        return cls("localstack", region, endpoint_url)

    @classmethod
    def aws(cls, region: str) -> Target:
        return cls("aws", region)

    @property
    def emulated(self) -> bool:
        return self.endpoint_url is not None

    @cached_property
    def session(self) -> boto3.Session:
        credentials = EMULATOR_CREDENTIALS if self.emulated else {}
        return boto3.Session(region_name=self.region, **credentials)

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.endpoint_url, config=_CLIENT_CONFIG)
