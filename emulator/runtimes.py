"""Lambda's runtimes as the emulator knows them: which it runs, how, and their status.

Three families run locally, each as Lambda runs it:

- ``python3.X``: our own worker (:mod:`emulator.worker`) on a Python 3.X interpreter
  found on the machine (:mod:`emulator.interpreters`), or the emulator's own if none is.
- ``nodejs18.x`` … ``nodejs24.x``: our Node.js runtime client (``emulator/js/``) on the
  machine's ``node``, speaking the Runtime API (:mod:`emulator.runtime_api`).
- ``provided.al2023``, ``provided.al2``: the function's own ``bootstrap``, speaking the
  Runtime API.

Anything else (Java, .NET, Ruby, ``python2.7``…) is not run: each such function is
named in one line at start-up and its invocations fail, while the rest of the stack
serves. :data:`DEPRECATIONS` is AWS's runtime deprecation table, as data.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

PYTHON = "python"
NODEJS = "nodejs"
PROVIDED = "provided"

_PYTHON = re.compile(r"python3\.(?P<minor>\d+)")
_NODEJS = re.compile(r"nodejs(?P<major>\d+)\.x")
NODEJS_RUNTIMES = ("nodejs18.x", "nodejs20.x", "nodejs22.x", "nodejs24.x")
PROVIDED_RUNTIMES = ("provided.al2023", "provided.al2")

# AWS Lambda's runtime deprecation dates (the "Supported runtimes" and "Deprecated
# runtimes" tables of the Lambda developer guide, as of 2026-12). On that date Lambda
# stops patching the runtime; creating and then updating functions are blocked later.
DEPRECATIONS: dict[str, datetime.date] = {
    "python3.14": datetime.date(2029, 6, 30),
    "python3.13": datetime.date(2029, 6, 30),
    "python3.12": datetime.date(2028, 10, 31),
    "python3.11": datetime.date(2026, 6, 30),
    "python3.10": datetime.date(2026, 6, 30),
    "python3.9": datetime.date(2025, 12, 15),
    "python3.8": datetime.date(2024, 10, 14),
    "python3.7": datetime.date(2023, 12, 4),
    "python3.6": datetime.date(2022, 7, 18),
    "nodejs24.x": datetime.date(2028, 4, 30),
    "nodejs22.x": datetime.date(2027, 4, 30),
    "nodejs20.x": datetime.date(2026, 4, 30),
    "nodejs18.x": datetime.date(2025, 9, 1),
    "nodejs16.x": datetime.date(2024, 6, 12),
    "nodejs14.x": datetime.date(2023, 12, 4),
    "provided.al2023": datetime.date(2029, 6, 30),
    "provided.al2": datetime.date(2026, 6, 30),
    "provided": datetime.date(2024, 1, 8),
}


@dataclass(frozen=True)
class Runtime:
    """A ``Runtime`` value read: its family, and the language version it asks for."""

    name: str
    family: str | None  # PYTHON, NODEJS, PROVIDED; None: not run locally
    version: tuple[int, ...] = ()  # (3, 12) for python3.12, (20,) for nodejs20.x

    @property
    def runs(self) -> bool:
        return self.family is not None


def parse(name: str) -> Runtime:
    """What ``name`` (a function's ``Runtime``) is, and whether it runs locally."""
    if match := _PYTHON.fullmatch(name):
        return Runtime(name, PYTHON, (3, int(match["minor"])))
    if name in NODEJS_RUNTIMES and (match := _NODEJS.fullmatch(name)):
        return Runtime(name, NODEJS, (int(match["major"]),))
    if name in PROVIDED_RUNTIMES:
        return Runtime(name, PROVIDED)
    return Runtime(name, None)


def refusal_reason(runtime: str) -> str:
    """Why a function of ``runtime`` is not run here, in a few words."""
    known = runtime in DEPRECATIONS or runtime.startswith(("java", "dotnet", "ruby", "go"))
    what = "is not run locally" if known else "is not a Lambda runtime the emulator knows"
    return (
        f"runtime {runtime!r} {what} (it runs python3.x, nodejs18.x to nodejs24.x, "
        "provided.al2023 and provided.al2)"
    )


def status(runtime: str, today: datetime.date | None = None) -> str | None:
    """One line when Lambda has deprecated ``runtime`` (or will within 90 days), else None."""
    deprecated = DEPRECATIONS.get(runtime)
    if deprecated is None:
        return None
    today = today or datetime.date.today()
    if deprecated <= today:
        return (
            f"{runtime} is deprecated on Lambda since {deprecated.isoformat()}: AWS no longer "
            "patches it, and later blocks creating, then updating, its functions"
        )
    if (deprecated - today).days <= 90:
        return f"{runtime} is deprecated on Lambda from {deprecated.isoformat()}"
    return None
