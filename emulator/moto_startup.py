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

And moto reads its own copy of each service's model (with its additions) as plain
dicts, as our clients do (:class:`emulator.targets.ModelFiles`).

Two more costs are paid on every request, not only the first: moto's server lists its
own package's folders (a ``listdir`` and a ``stat`` of each of its 150-odd services)
twice per request to know whether a host names a service, and lists the methods of the
service's response class (``inspect.getmembers``) to know whether it has the action.
Neither list changes while the process runs, so each is made once: cProfile of 300
DescribeTable calls had them at 1.7 ms and 1.5 ms of the 13 ms each took.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from moto import backends
from moto.core import loaders, responses, utils
from moto.core.base_backend import AccountSpecificBackend
from moto.core.routing import SmithyRule
from werkzeug.routing import Rule

from emulator.targets import ModelFiles, botocore_session

_LOCK = threading.Lock()
_installed = False


def _lazy_builder(self: Rule, append_unknown: bool = True) -> Callable[..., tuple[str, str]]:
    """A rule's URL builder that compiles werkzeug's own the first time it is called."""

    def build(rule: Rule, **values: Any) -> tuple[str, str]:
        built = Rule._compile_builder(rule, append_unknown).__get__(rule, None)
        setattr(rule, "_build_unknown" if append_unknown else "_build", built)
        return built(**values)  # type: ignore[no-any-return]

    return build


def _model_loader() -> loaders.Loader:
    """moto's loader of its models (botocore's, plus moto's additions), into plain dicts."""
    return loaders.Loader(extra_search_paths=[loaders.moto_root], file_loader=ModelFiles())


def install() -> None:
    """Make moto's routers compile their URL builders lazily, its region look-ups share
    our clients' models, its models be read into plain dicts, and the lists it made
    per request be made once (once per process)."""
    global _installed
    with _LOCK:
        if _installed:
            return
        SmithyRule._compile_builder = _lazy_builder  # type: ignore[method-assign]
        session = botocore_session()
        AccountSpecificBackend.get_session = classmethod(lambda cls: session)  # type: ignore[method-assign,assignment]
        vars(utils)["create_loader"] = _model_loader  # what its get_service_model calls
        modules = tuple(backends.list_of_moto_modules())
        backends.list_of_moto_modules = lambda: modules
        # What call_action calls, by the name it imported.
        named = functools.cache(utils.method_names_from_class)
        vars(responses)["method_names_from_class"] = named
        _installed = True
