"""Fixtures shared by the end-to-end and browser tiers: one local stack per session."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator

import pytest

from emulator.harness import BackgroundHarness, Harness, HarnessSettings
from scripts.stack import Stack
from tests.client import ChatClient


@pytest.fixture(scope="session")
def stack() -> Iterator[Harness]:
    """The whole local stack: embedded AWS emulator, deployed chat, gateway, website."""
    settings = HarnessSettings(stack=Stack(prefix=f"t{secrets.token_hex(3)}", stage="test"))
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
