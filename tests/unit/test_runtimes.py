"""Runtimes as the emulator reads them: families, AWS's deprecation dates, --python."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from emulator import runtimes
from emulator.interpreters import InterpreterError, _release, parse_overrides


@pytest.mark.parametrize(
    ("name", "family", "version"),
    [
        ("python3.12", runtimes.PYTHON, (3, 12)),
        ("python3.8", runtimes.PYTHON, (3, 8)),
        ("nodejs20.x", runtimes.NODEJS, (20,)),
        ("nodejs18.x", runtimes.NODEJS, (18,)),
        ("provided.al2023", runtimes.PROVIDED, ()),
        ("provided.al2", runtimes.PROVIDED, ()),
        ("java21", None, ()),
        ("dotnet8", None, ()),
        ("ruby3.3", None, ()),
        ("python2.7", None, ()),
        ("nodejs12.x", None, ()),
    ],
)
def test_each_runtime_has_its_family(
    name: str, family: str | None, version: tuple[int, ...]
) -> None:
    """Python 3, Node.js 18 to 24 and custom runtimes run; anything else doesn't."""
    runtime = runtimes.parse(name)
    assert (runtime.family, runtime.version, runtime.runs) == (family, version, family is not None)


def test_a_refused_runtime_says_what_runs() -> None:
    """The refusal names the runtime and the ones that do run."""
    reason = runtimes.refusal_reason("java21")
    assert reason.startswith("runtime 'java21' is not run locally")
    assert "python3.x, nodejs18.x to nodejs24.x, provided.al2023 and provided.al2" in reason
    assert "is not a Lambda runtime the emulator knows" in runtimes.refusal_reason("cobol1")


def test_status_from_aws_deprecation_dates() -> None:
    """Deprecated: said with its date; within 90 days: said as coming; else nothing."""
    today = datetime.date(2026, 12, 3)
    assert runtimes.status("python3.8", today) == (
        "python3.8 is deprecated on Lambda since 2024-10-14: AWS no longer patches it, "
        "and later blocks creating, then updating, its functions"
    )
    assert runtimes.status("python3.12", today) is None
    assert runtimes.status("python3.12", datetime.date(2028, 9, 1)) == (
        "python3.12 is deprecated on Lambda from 2028-10-31"
    )
    assert runtimes.status("provided.al2023", today) is None
    assert runtimes.status("nodejs18.x", today) is not None


def test_python_overrides() -> None:
    """--python 3.12=PATH items; anything else is a one-line error."""
    assert parse_overrides(["3.12=/opt/py/bin/python3.12"]) == {
        "3.12": Path("/opt/py/bin/python3.12")
    }
    for bad in ["3.12", "3=/x", "three.12=/x", "3.12="]:
        with pytest.raises(InterpreterError, match="write VERSION=PATH"):
            parse_overrides([bad])


def test_pyenv_and_uv_folders_sort_by_release() -> None:
    """The newest patch release of a version is tried first."""
    names = ["3.12.1", "3.12.10", "cpython-3.12.4-linux-x86_64-gnu"]
    assert sorted(names, key=_release, reverse=True) == [
        "3.12.10",
        "cpython-3.12.4-linux-x86_64-gnu",
        "3.12.1",
    ]
