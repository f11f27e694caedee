"""Fixtures shared by the end-to-end and browser tiers: one stack per session.

One suite, several targets, chosen by ``CHAT_TEST_TARGET`` (as moto runs its suite
again against its server):

- ``local`` (the default): the embedded AWS emulator, in this process;
- ``localstack``: a real LocalStack — the one at ``LOCALSTACK_ENDPOINT`` if set, the one
  on port 4566 if it answers, otherwise one started for the session (docker compose or
  PyPI, see ``scripts/localstack.py``) and stopped at the end. Without API Gateway v2 in
  LocalStack, the WebSocket API's definition lives in the embedded control plane.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator

import pytest

from emulator.deploy import Report
from emulator.destroy import Destroyer
from emulator.harness import BackgroundHarness, Harness, HarnessSettings
from scripts import localstack
from scripts.stack import chat_stack
from tests.client import ChatClient

TARGETS = ("local", "localstack")
TARGET = os.environ.get("CHAT_TEST_TARGET", "local")
if TARGET not in TARGETS:
    raise pytest.UsageError(f"CHAT_TEST_TARGET={TARGET!r}: use one of {', '.join(TARGETS)}")


@pytest.fixture(scope="session")
def control_plane_url() -> Iterator[str | None]:
    """LocalStack's URL on the localstack target; None: embed moto's server."""
    if TARGET == "local":
        yield None
        return
    with localstack.running_localstack(os.environ.get("LOCALSTACK_ENDPOINT")) as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def stack(
    control_plane_url: str | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Harness]:
    """The whole stack on the chosen target: control planes, deployed chat, gateway, website."""
    settings = HarnessSettings(
        stack=chat_stack(prefix=f"t{secrets.token_hex(3)}", stage="test"),
        control_plane_url=control_plane_url,
        outputs_path=tmp_path_factory.mktemp("outputs") / f"outputs-{TARGET}.json",
    )
    with BackgroundHarness(settings) as harness:
        yield harness
        if control_plane_url is not None:  # LocalStack outlives the session: tidy up
            assert harness.target is not None
            Destroyer(settings.stack, harness.target, Report(out=None)).destroy()


# Small limits, so that tests reach them quickly (see chat.config.Limits).
SMALL_LIMITS = {
    "rate_window_seconds": 60,
    "rate_per_connection": 30,
    "rate_per_user": 45,
    "max_connections_per_user": 3,
    "max_pending_per_room": 3,
    "max_pending_per_user": 2,
    "presence_probe_seconds": 0,
}


@pytest.fixture(scope="session")
def limited_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    """The chat with :data:`SMALL_LIMITS`, on the embedded emulator."""
    settings = HarnessSettings(
        stack=chat_stack(prefix=f"l{secrets.token_hex(3)}", stage="test", limits=SMALL_LIMITS),
        outputs_path=tmp_path_factory.mktemp("limited") / "outputs.json",
    )
    with BackgroundHarness(settings) as harness:
        yield harness


@pytest.fixture
def make_client(stack: Harness) -> Iterator[Callable[..., ChatClient]]:
    """Connect users; every client is closed at the end of the test."""
    clients: list[ChatClient] = []

    def make(name: str, key: str | None = None) -> ChatClient:
        assert stack.gateway is not None
        client = ChatClient(stack.gateway.url, name, key)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
