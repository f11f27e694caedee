"""Fixtures shared by the end-to-end and browser tiers.

The local stack itself is the ``websocket_api`` fixture of the package's pytest plugin,
configured in pyproject.toml: the chat's Python stack (``scripts.stack:CHAT``), one
harness for the whole session.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from emulator.pytest_plugin import WebSocketApi
from tests.client import ChatClient

pytest_plugins = ["pytester"]  # the plugin's own tests run small projects of tests


@pytest.fixture
def make_client(websocket_api: WebSocketApi) -> Iterator[Callable[..., ChatClient]]:
    """Connect users; every client is closed at the end of the test."""
    clients: list[ChatClient] = []

    def make(name: str, key: str | None = None) -> ChatClient:
        client = ChatClient(websocket_api.url, name, key)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
