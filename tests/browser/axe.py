"""axe-core in the browser: the version axe-playwright-python bundles, and the newest.

The newest is the npm package pinned in the Makefile (``AXE_CORE``), installed into a
cache outside the repository (``make axe-core``, or here on first use) and injected into
the page under test; nothing of axe-core is copied into this repository.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
from pathlib import Path
from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parents[2]
BLOCKING = ("serious", "critical")
BUNDLED = Axe()


def _pinned() -> str:
    """The ``axe-core@x.y.z`` the Makefile pins."""
    match = re.search(r"^AXE_CORE := (axe-core@\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert match, "the Makefile pins no AXE_CORE"
    return match[1]


@functools.cache
def newest_script() -> str:
    """The pinned newest axe-core's script, installed into the cache if it isn't there."""
    pinned = _pinned()
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "chat-tests" / pinned
    path = Path(os.environ.get("AXE_CORE_JS", cache / "node_modules/axe-core/axe.min.js"))
    if not path.exists():
        subprocess.run(
            [
                "npm",
                "install",
                "--silent",
                "--no-save",
                "--no-package-lock",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(cache),
                pinned,
            ],
            check=True,
        )
        path = cache / "node_modules/axe-core/axe.min.js"
    script = path.read_text()
    assert script.startswith(f"/*! axe v{pinned.split('@')[1]}"), script[:40]
    return script


def violations(page: Page) -> dict[str, list[dict[str, Any]]]:
    """Serious and critical findings on the page as it is now, by each axe-core."""
    bundled = BUNDLED.run(page).response["violations"]
    page.evaluate(newest_script())
    newest = page.evaluate("axe.run(document, {resultTypes: ['violations']})")["violations"]
    return {
        version: [v for v in found if v["impact"] in BLOCKING]
        for version, found in (("bundled", bundled), ("newest", newest))
    }


def assert_accessible(page: Page, state: str) -> None:
    """No serious or critical finding, for either axe-core, in this state of the page."""
    found = violations(page)
    report = {
        version: [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in items]
        for version, items in found.items()
        if items
    }
    assert not report, f"axe-core on the {state} state: {report}"
