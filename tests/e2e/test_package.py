"""The package as another project gets it: a wheel in a fresh venv outside this checkout.

The wheel is built from this repository and installed, with its declared dependencies
only (pinned to requirements*.txt as constraints, which add nothing of their own),
into a virtual environment in a temporary folder. Nothing of the repository is on
that environment's path: an example project, with its own template, handler, tests
and configuration, runs its suite through the installed pytest plugin.
"""

from __future__ import annotations

import configparser
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.timing import seconds

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "tests" / "fixtures" / "example-project"
FAILING_TEST = '''"""Fails on purpose, after the function has run, to show its log in the report."""

import json

from websockets.sync.client import connect


def test_fails_after_counting(websocket_api):
    """The count is 1, not 2: the report shows what the function printed."""
    with connect(websocket_api.url) as ws:
        ws.send(json.dumps({"action": "count", "word": "fig"}))
        reply = json.loads(ws.recv(timeout=10))
    assert reply["count"] == 2
'''
# Every module of the package, imported in the venv, and where each came from.
IMPORT_ALL = """
import importlib, json, pkgutil, sys
import emulator
names = [m.name for m in pkgutil.iter_modules(emulator.__path__, "emulator.")]
files = {name: importlib.import_module(name).__file__ for name in names}
print(json.dumps({"files": files, "path": sys.path}))
"""

pytestmark = pytest.mark.timeout(seconds(900))


@dataclass(frozen=True)
class Installed:
    venv: Path
    wheel: Path
    workdir: Path  # outside the checkout; commands run here

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    def run(
        self, *command: str | Path, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        """A command with the venv's tools, none of this repository's paths, and no input."""
        environment = {
            k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")
        }
        environment["PATH"] = f"{self.bin}{os.pathsep}{environment.get('PATH', '')}"
        return subprocess.run(
            [str(part) for part in command],
            cwd=cwd or self.workdir,
            env=environment,
            capture_output=True,
            text=True,
            timeout=seconds(600),
            stdin=subprocess.DEVNULL,
            check=False,
        )


def constraints(path: Path) -> Path:
    """requirements.txt and requirements-dev.txt's pins, with no ``-r`` (which would add)."""
    lines = [
        line
        for name in ("requirements.txt", "requirements-dev.txt")
        for line in (ROOT / name).read_text().splitlines()
        if line.strip() and not line.startswith(("#", "-"))
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    """The wheel, built and installed with its pytest extra into a new venv."""
    work = tmp_path_factory.mktemp("package")
    assert not work.is_relative_to(ROOT)
    wheels = work / "wheels"
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "-w",
            str(wheels),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=seconds(300),
        check=False,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = wheels.glob("ws_emulator-*.whl")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=seconds(120))
    setup = Installed(venv, wheel, work)
    install = setup.run(
        venv / "bin" / "python",
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--constraint",
        constraints(work / "constraints.txt"),
        f"{wheel}[pytest]",
    )
    assert install.returncode == 0, install.stderr
    yield setup
    shutil.rmtree(work, ignore_errors=True)


def test_the_wheel_holds_the_emulator_package_only(installed: Installed) -> None:
    """No chat code, scripts or tests in the wheel; a console script and the plugin declared."""
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = wheel.namelist()
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        declared = wheel.read(entry_points).decode()
        (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        description = wheel.read(metadata).decode()
    assert {name.split("/")[0] for name in names if not name.startswith("ws_emulator-")} == {
        "emulator"
    }
    assert "emulator/pytest_plugin.py" in names
    assert "emulator/py.typed" in names  # type checkers use the package's annotations
    # The Node.js runtime client and the pinned AWS SDK for JavaScript it installs.
    assert {"emulator/js/runtime.mjs", "emulator/js/sdk/package-lock.json"} <= set(names)
    entry = configparser.ConfigParser()
    entry.read_string(declared)
    # As `python -m emulator`: the cyclic collector held during the imports, what they
    # made frozen (test_console_script_and_module_both_serve checks the freeze).
    assert entry["console_scripts"]["ws-emulator"] == "emulator.__main__:main"
    assert entry["pytest11"]["websocket_api"] == "emulator.pytest_plugin"
    # The package's page on an index is the harness's own README, not the chat's.
    assert "Description-Content-Type: text/markdown" in description
    assert "# ws-emulator" in description
    assert "make local" not in description


def test_console_script_and_module_both_serve(installed: Installed) -> None:
    """`ws-emulator serve --help` and `python -m emulator serve --help` both answer."""
    for command in (
        [installed.bin / "ws-emulator", "serve", "--help"],
        [installed.bin / "python", "-m", "emulator", "serve", "--help"],
    ):
        result = installed.run(*command)
        assert result.returncode == 0, result.stderr
        assert "template.yaml" in result.stdout
    frozen = installed.run(
        installed.bin / "python", "-c", "import gc, emulator.__main__; print(gc.get_freeze_count())"
    )
    assert int(frozen.stdout) > 10_000, frozen.stderr


def test_every_module_imports_from_the_venv_alone(installed: Installed) -> None:
    """Each emulator module imports from site-packages, with the checkout nowhere on sys.path."""
    result = installed.run(installed.bin / "python", "-c", IMPORT_ALL)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert len(seen["files"]) >= 15
    assert "emulator.pytest_plugin" in seen["files"]
    for file in seen["files"].values():
        assert Path(file).is_relative_to(installed.venv), file
    assert not [p for p in seen["path"] if p and Path(p).resolve().is_relative_to(ROOT)]


def test_an_example_project_tests_through_the_plugin(installed: Installed) -> None:
    """The example's suite passes; a failing test's report shows what the function logged."""
    project = installed.workdir / "example"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__"))
    passing = installed.run(installed.bin / "pytest", "-p", "no:cacheprovider", cwd=project)
    assert passing.returncode == 0, passing.stdout + passing.stderr
    assert "3 passed" in passing.stdout

    failing_test = project / "failing" / "test_fails.py"
    failing_test.parent.mkdir()
    failing_test.write_text(FAILING_TEST)
    failing = installed.run(
        installed.bin / "pytest", "-p", "no:cacheprovider", failing_test, cwd=project
    )
    assert failing.returncode == 1, failing.stdout + failing.stderr
    report = failing.stdout
    assert "1 failed" in report
    section = report[report.index("Captured function logs call") :]
    assert "--- CountFunction (" in section
    assert "counted 'fig': 1" in section
    assert "REPORT RequestId:" in section
