"""Fixtures shared by the end-to-end and browser tiers: one stack per session.

The stack is the ``websocket_api`` fixture of the package's own pytest plugin,
configured in pyproject.toml: the chat's Python stack (``scripts.stack:CHAT``), one
for the whole session; ``stack`` is its harness. One suite, several targets, chosen
by ``CHAT_TEST_TARGET`` (as moto runs its suite again against its server):

- ``local`` (the default): the embedded AWS emulator, in this process;
- ``localstack``: a real LocalStack — the one at ``LOCALSTACK_ENDPOINT`` if set, the one
  on port 4566 if it answers, otherwise one started for the session (docker compose or
  PyPI, see ``scripts/localstack.py``) and stopped at the end. Without API Gateway v2 in
  LocalStack, the WebSocket API's definition lives in the embedded control plane.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator

import pytest

from emulator.harness import Harness
from emulator.inspector.actions import Actions
from emulator.inspector.server import InspectorServer
from emulator.websocket_api import WebSocketApi
from scripts import localstack
from scripts.stack import chat_stack
from tests.client import ChatClient

pytest_plugins = ["pytester"]  # the plugin's own tests run small projects of tests

TARGETS = ("local", "localstack")
TARGET = os.environ.get("CHAT_TEST_TARGET", "local")
if TARGET not in TARGETS:
    raise pytest.UsageError(f"CHAT_TEST_TARGET={TARGET!r}: use one of {', '.join(TARGETS)}")


@pytest.fixture(scope="session")
def websocket_api_control_plane_url() -> Iterator[str | None]:
    """Where the plugin deploys: LocalStack's URL on the localstack target, else embedded."""
    if TARGET == "local":
        yield None
        return
    with localstack.running_localstack(os.environ.get("LOCALSTACK_ENDPOINT")) as endpoint:
        yield endpoint


@pytest.fixture
def stack(websocket_api: WebSocketApi) -> Harness:
    """The whole stack on the chosen target: control planes, deployed chat, gateway, website."""
    return websocket_api.harness


# Small limits, so that tests reach them quickly (see chat.config.Limits); a test,
# class or module marked LIMITED runs against a stack of its own with them.
SMALL_LIMITS = {
    "rate_window_seconds": 60,
    "rate_per_connection": 30,
    "rate_per_user": 45,
    "max_connections_per_user": 3,
    "max_pending_per_room": 3,
    "max_pending_per_user": 2,
    "presence_probe_seconds": 0,
}
LIMITED = pytest.mark.websocket_api(template=chat_stack(stage="test", limits=SMALL_LIMITS))


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


@pytest.fixture
def inspector(websocket_api: WebSocketApi) -> Iterator[InspectorServer]:
    """The inspector's page for the fixture's harness (which serves none), on its own port."""
    harness = websocket_api.harness
    loop, record = harness.loop, harness.record
    gateway, runner = harness.gateway, harness.runner
    assert loop is not None
    assert record is not None
    assert gateway is not None
    assert runner is not None
    server = InspectorServer(record, Actions(record, gateway, runner))
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(timeout=30)
    yield server
    asyncio.run_coroutine_threadsafe(server.stop(), loop).result(timeout=30)
