"""Fixtures shared by the end-to-end and browser tiers: one local stack per session."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator

import pytest

from emulator.harness import BackgroundHarness, Harness, HarnessSettings
from scripts.stack import chat_stack
from tests.client import ChatClient


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    """The whole local stack: embedded AWS emulator, deployed chat, gateway, website."""
    settings = HarnessSettings(
        stack=chat_stack(prefix=f"t{secrets.token_hex(3)}", stage="test"),
        outputs_path=tmp_path_factory.mktemp("outputs") / "outputs-local.json",
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
