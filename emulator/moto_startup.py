"""moto's first requests to each service, made cheaper: most of what a deploy waits for.

A deploy into the embedded control plane is a few dozen requests, most of them the
first of their service, and moto pays for a service's first request in work it never
needs again. Two parts of it are pure waste here; :func:`install` removes them:

- a REST service's router (Lambda, API Gateway v2, S3) is a werkzeug ``Map`` of every
  operation, and werkzeug compiles each rule twice more (Python source, ``ast``,
  ``compile``) for *building* URLs, which moto never does. Its rules compile those
  builders on first use instead (:func:`_lazy_builder`): matching is unchanged.
- each service's first backend asks a botocore session of moto's own which regions the
  service has, and that session reads the endpoints and the service's model from disk
  again (the endpoints alone are 7 MB once read). It gets the models our clients
  already read (:func:`emulator.targets.botocore_session`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from moto.core.base_backend import AccountSpecificBackend
from moto.core.routing import SmithyRule
from werkzeug.routing import Rule

from emulator.targets import botocore_session

_LOCK = threading.Lock()
_installed = False


def _lazy_builder(self: Rule, append_unknown: bool = True) -> Callable[..., tuple[str, str]]:
    """A rule's URL builder that compiles werkzeug's own the first time it is called."""

    def build(rule: Rule, **values: Any) -> tuple[str, str]:
        built = Rule._compile_builder(rule, append_unknown).__get__(rule, None)
        setattr(rule, "_build_unknown" if append_unknown else "_build", built)
        return built(**values)  # type: ignore[no-any-return]

    return build


def install() -> None:
    """Make moto's routers compile their URL builders lazily, and its region look-ups
    share our clients' models (once per process)."""
    global _installed
    with _LOCK:
        if _installed:
            return
        SmithyRule._compile_builder = _lazy_builder  # type: ignore[method-assign]
        session = botocore_session()
        AccountSpecificBackend.get_session = classmethod(lambda cls: session)  # type: ignore[method-assign,assignment]
        _installed = True
