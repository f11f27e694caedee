"""Which requests to the harness's own servers come from a web page and are refused."""

from __future__ import annotations

import pytest

from emulator import origins

HOSTS = origins.local_hosts(4566) | {"abc123.execute-api.us-east-1.amazonaws.com"}
OWN = origins.local_origins("http", 4566)


@pytest.mark.parametrize(
    "headers",
    [
        {"host": "127.0.0.1:4566"},  # boto3, curl: no Origin, no Sec-Fetch-*
        {"host": "LOCALHOST:4566"},
        {"host": "abc123.execute-api.us-east-1.amazonaws.com"},  # a function's SDK
        {"host": "127.0.0.1:4566", "sec-fetch-site": "none"},  # typed into the address bar
        {"host": "127.0.0.1:4566", "origin": "http://127.0.0.1:4566"},  # the server's own page
        {"host": "localhost:4566", "sec-fetch-site": "same-origin"},
    ],
)
def test_programs_and_the_servers_own_pages_are_served(headers: dict[str, str]) -> None:
    """Requests without a foreign origin, to a host the server was given, are served."""
    assert origins.refusal(headers, HOSTS, OWN) is None


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"host": "127.0.0.1:4566", "origin": "https://evil.example"}, "web pages on"),
        ({"host": "127.0.0.1:4566", "origin": "null"}, "web pages on"),  # sandboxed, file:
        ({"host": "127.0.0.1:4566", "origin": "http://127.0.0.1:8000"}, "web pages on"),
        ({"host": "127.0.0.1:4566", "sec-fetch-site": "cross-site"}, "another site"),
        ({"host": "127.0.0.1:4566", "sec-fetch-site": "same-site"}, "another site"),
        ({"host": "rebound.evil.example:4566"}, "does not answer to the host"),  # DNS rebinding
        ({"host": "127.0.0.1:9999"}, "does not answer to the host"),
        ({}, "does not answer to the host '(none)'"),
    ],
)
def test_web_pages_elsewhere_are_refused(headers: dict[str, str], reason: str) -> None:
    """A foreign Origin or Sec-Fetch-Site, or a Host the server wasn't given, is refused."""
    refused = origins.refusal(headers, HOSTS, OWN)
    assert refused is not None
    assert reason in refused


def test_cors_headers_are_recognised() -> None:
    """Every Access-Control-* response header, whatever its case, is a CORS header."""
    assert origins.is_cors_header("Access-Control-Allow-Origin")
    assert origins.is_cors_header("access-control-expose-headers")
    assert not origins.is_cors_header("Content-Type")
