"""Unit tests of ``chat.app``: how a request answers when API Gateway refuses a post."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from chat import config
from chat.app import Request, until_written
from chat.fanout import Fanout
from chat.store import Conflict, Store

EVENT = {"requestContext": {"connectionId": "caller", "domainName": "x", "stage": "test"}}


class ManagementApi:
    """Stands in for ``apigatewaymanagementapi``: refuses what API Gateway would."""

    def __init__(self, failures: list[str] | None = None, limit: int = 128 * 1024) -> None:
        self.limit = limit
        self.failures = list(failures or [])  # the error codes of the next posts
        self.posted: list[dict[str, Any]] = []

    def post_to_connection(self, ConnectionId: str, Data: bytes) -> None:  # noqa: N803
        if self.failures:
            raise ClientError({"Error": {"Code": self.failures.pop(0)}}, "PostToConnection")
        if len(Data) > self.limit:
            raise ClientError({"Error": {"Code": "PayloadTooLargeException"}}, "PostToConnection")
        self.posted.append(json.loads(Data))


def request_with(api: ManagementApi) -> Request:
    settings = config.Settings("c", "r", "m", "INFO")
    return Request(EVENT, Store(settings, client=object()), Fanout("https://x/test", client=api))


def test_a_reply_too_large_to_post_becomes_an_error_event() -> None:
    """A 413 on the reply is not silent: the caller gets REPLY_TOO_LARGE with its ref."""
    api = ManagementApi()
    request = request_with(api)
    request.ref = "r1"
    request.reply({"type": "history", "messages": ["x" * 200_000]})
    assert [(e["type"], e["code"], e["ref"]) for e in api.posted] == [
        ("error", "REPLY_TOO_LARGE", "r1")
    ]


def test_a_reply_that_fails_otherwise_becomes_an_internal_error_event() -> None:
    """Throttling past the retries: the caller is told, with its ref."""
    api = ManagementApi(failures=["LimitExceededException"])
    request = request_with(api)
    request.ref = "r2"
    request.reply({"type": "rooms"})
    assert [(e["code"], e["ref"]) for e in api.posted] == [("INTERNAL_ERROR", "r2")]
    refused_twice = ManagementApi(failures=["LimitExceededException"] * 2)
    request_with(refused_twice).reply({"type": "rooms"})  # logged; nothing else to do
    assert refused_twice.posted == []


def test_a_step_whose_write_finds_the_state_changed_checks_again() -> None:
    """until_written runs the check-then-write step again after each Conflict, and
    lets the last one through when the state keeps changing."""
    conflicts = [Conflict("changed")] * 2
    runs: list[int] = []

    def step() -> str:
        runs.append(1)
        if conflicts:
            raise conflicts.pop()
        return "written"

    assert until_written(step) == "written"
    assert len(runs) == 3

    def always() -> str:
        raise Conflict("changed again")

    with pytest.raises(Conflict):
        until_written(always, attempts=3)
