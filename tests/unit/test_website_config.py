"""config.js served on every interface: the wildcard address becomes the requested host."""

from __future__ import annotations

import pytest

from emulator.website import as_requested

CONFIG = b'window.APP_CONFIG = {"websocketUrl": "ws://0.0.0.0:8765/local"};\n'


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("192.168.1.20:8080", "ws://192.168.1.20:8765/local"),
        ("laptop.local:8080", "ws://laptop.local:8765/local"),
        ("laptop", "ws://laptop:8765/local"),
        ("[fd00::2]:8080", "ws://[fd00::2]:8765/local"),
    ],
)
def test_the_wildcard_address_becomes_the_host_the_browser_asked_for(host: str, url: str) -> None:
    """A Host header's name (or bracketed IPv6 address) replaces 0.0.0.0; its port doesn't."""
    assert as_requested(CONFIG, "0.0.0.0", host) == CONFIG.replace(
        b"ws://0.0.0.0:8765/local", url.encode()
    )


@pytest.mark.parametrize(
    "host", [None, "", 'x"};alert(1)//', "a b:80", "host/path", "user@host", "[::1"]
)
def test_a_host_header_that_is_not_a_plain_name_changes_nothing(host: str | None) -> None:
    """Anything but a plain name, address or [IPv6 address] (and a port) is never written
    into the script."""
    assert as_requested(CONFIG, "0.0.0.0", host) == CONFIG
