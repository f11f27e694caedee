"""What a test asks the ``websocket_api`` fixture for: the ``websocket_api_*`` ini
options, overridden by ``websocket_api`` markers from module to test, read into an
:class:`ApiSpec` (pure: no harness is imported here).
"""

from __future__ import annotations

import importlib
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from emulator.stack import Stack

ISOLATIONS = ("test", "module", "session")
MARKER_KEYS = ("template", "parameters", "stage", "region", "isolation")
INI = {
    "template": "a SAM/CloudFormation template (relative to the rootdir) or module:STACK",
    "parameters": "template parameters, Name=Value separated by spaces",
    "stage": "the stage to serve (default: the template's or stack's own)",
    "region": "the region to deploy to (default: us-east-1)",
    "isolation": "how long a harness lives: test, module or session (the default)",
}


@dataclass(frozen=True)
class ApiSpec:
    """What one test asks the fixture for: the ini options, then markers nearest last."""

    source: Path | str | Stack  # a template, ``module:ATTRIBUTE``, or a Stack
    parameters: tuple[tuple[str, str], ...] = ()
    stage: str | None = None
    region: str | None = None
    isolation: str = "session"

    @property
    def harness_key(self) -> tuple[Any, ...]:
        """Specs with equal keys can share a harness."""
        return (self.source, self.parameters, self.stage, self.region)

    @property
    def describe(self) -> str:
        return self.source.name if isinstance(self.source, Stack) else str(self.source)


class SpecError(Exception):
    """The configuration or a marker asks for something that can't be; says what."""


def _parameters(value: object) -> tuple[tuple[str, str], ...]:
    """``{"Name": "Value"}``, ``["Name=Value", …]`` or ``"Name=Value …"``, as sorted pairs."""
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), str(v)) for k, v in value.items()))
    if isinstance(value, str):
        pairs: list[object] = list(shlex.split(value))
    elif isinstance(value, list | tuple):
        pairs = list(value)
    else:
        raise SpecError(f"parameters {value!r}: give a dict or Name=Value strings")
    parsed: dict[str, str] = {}
    for pair in pairs:
        name, sep, text = str(pair).partition("=")
        if not sep or not name:
            raise SpecError(f"parameter {pair!r}: write Name=Value")
        parsed[name] = text
    return tuple(sorted(parsed.items()))


def _source(value: object, rootdir: Path) -> Path | str | Stack:
    from emulator.serve_options import TEMPLATE_SUFFIXES

    if isinstance(value, Stack):
        return value
    if isinstance(value, str) and ":" in value and not value.endswith(TEMPLATE_SUFFIXES):
        return value  # a Python stack, imported when its harness starts
    if isinstance(value, str | Path) and str(value):
        return (rootdir / value).resolve()
    raise SpecError(
        "no stack to run: set websocket_api_template in pytest.ini or pyproject.toml, "
        "or mark the test with @pytest.mark.websocket_api(template=...)"
    )


def spec_for(item: pytest.Item) -> ApiSpec:
    """The ini options, overridden by each ``websocket_api`` marker from module to test."""
    config = item.config
    values: dict[str, object] = {key: config.getini(f"websocket_api_{key}") for key in INI}
    for marker in reversed(list(item.iter_markers("websocket_api"))):
        unknown = set(marker.kwargs) - set(MARKER_KEYS)
        if unknown:
            raise SpecError(
                f"websocket_api marker: unknown {', '.join(sorted(unknown))}; "
                f"it takes {', '.join(MARKER_KEYS)}"
            )
        if marker.args:
            values["template"] = marker.args[0]
        values.update({k: v for k, v in marker.kwargs.items() if v is not None})
    isolation = str(values["isolation"] or "session")
    if isolation not in ISOLATIONS:
        raise SpecError(f"websocket_api isolation {isolation!r}: use {', '.join(ISOLATIONS)}")
    return ApiSpec(
        source=_source(values["template"], config.rootpath),
        parameters=_parameters(values["parameters"] or ()),
        stage=str(values["stage"]) if values["stage"] else None,
        region=str(values["region"]) if values["region"] else None,
        isolation=isolation,
    )


def import_stack(reference: str) -> Stack:
    """The Stack a ``module:ATTRIBUTE`` reference names."""
    module_name, _, attribute = reference.partition(":")
    try:
        stack = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise SpecError(f"{reference}: can't import it ({exc})") from exc
    if not isinstance(stack, Stack):
        raise SpecError(f"{reference} is a {type(stack).__name__}, not an emulator Stack")
    return stack
