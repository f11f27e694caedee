"""The website server: the bucket's files with the headers a careful host sends."""

from __future__ import annotations

import re
import urllib.error
import urllib.request

import pytest

from emulator.harness import Harness
from scripts.stack import FRONTEND_DIR
from tests.timing import seconds


def headers_of(url: str) -> dict[str, str]:
    with urllib.request.urlopen(url, timeout=seconds(10)) as response:
        return {k.lower(): v for k, v in response.headers.items()}


def test_the_page_is_served_with_its_policy_as_a_header_and_never_framed(stack: Harness) -> None:
    """index.html's own CSP comes as a header too, with frame-ancestors 'none' (which a
    meta tag can't say), X-Frame-Options DENY and Referrer-Policy no-referrer."""
    assert stack.website is not None
    page = (FRONTEND_DIR / "index.html").read_text()
    meta = re.search(r'http-equiv="Content-Security-Policy"\s+content="([^"]+)"', page)
    assert meta is not None
    headers = headers_of(stack.website.url)
    assert headers["content-security-policy"] == meta.group(1) + "; frame-ancestors 'none'"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-content-type-options"] == "nosniff"


def test_other_files_and_errors_are_not_framed_either(stack: Harness) -> None:
    """Scripts, styles and a 404 carry the framing and referrer headers as well."""
    assert stack.website is not None
    for path in ("app.js", "style.css"):
        headers = headers_of(stack.website.url + path)
        assert headers["content-security-policy"] == "frame-ancestors 'none'"
        assert headers["x-frame-options"] == "DENY"
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(stack.website.url + "missing.html", timeout=seconds(10))
    assert missing.value.code == 404
    assert missing.value.headers["X-Frame-Options"] == "DENY"
    assert missing.value.headers["Referrer-Policy"] == "no-referrer"
