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
dicts, as our clients do (:class:`emulator.model_files.ModelFiles`), with one loader for
the process that checks a service's name from its own folder: moto made a new loader for
each model it read, and each new loader listed every service botocore and moto have (a
``stat`` of each of their 400-odd model folders, 30 to 45 ms) before reading one file.
moto's look-up of a service's name from its package name, when it formats an error, made
a whole botocore session of its own to list them once more; it asks the shared one.

The first encrypted DynamoDB table of an account makes moto import its KMS and create
that account's ``alias/aws/dynamodb`` key: the key is made when KMS is first loaded
(:mod:`emulator.moto_kms`). moto's IAM imports
``cryptography.x509`` for certificates a stack never uploads (8 MB of memory): it runs
when first used (:mod:`emulator.lazy_import`).

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

from emulator import lazy_import, moto_items, moto_kms, moto_query
from emulator.model_files import ModelFiles, QuickServiceCheck
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


@functools.cache
def _model_loader() -> loaders.Loader:
    """moto's loader of its models (botocore's, plus moto's additions), into plain dicts;
    one for the process, so its list of the services is made once (its caches don't lock:
    two threads may fill one twice, with the same answer)."""
    return _MotoLoader(extra_search_paths=[loaders.moto_root], file_loader=ModelFiles())


class _MotoLoader(QuickServiceCheck, loaders.Loader):
    """moto's loader, checking a service's name from its own folder."""


@functools.cache
def _service_name(package: str) -> str:
    """The botocore name of a moto package's service (``awslambda``: ``lambda``), as moto's
    own answers it (hyphens are dropped from package names), from the shared session: a
    package named as its service is checked alone, without listing them all."""
    services = botocore_session().get_available_services()
    if package in services:
        return package
    names: dict[str, str] = {name.replace("-", ""): name for name in services}
    return names.get(package, package)


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
        vars(utils)["service_name_from_moto_package_name"] = _service_name
        moto_kms.install()
        moto_items.install()
        moto_query.install()
        lazy_import.on_first_use("cryptography.x509")  # moto's IAM, for certificates only
        modules = tuple(backends.list_of_moto_modules())
        backends.list_of_moto_modules = lambda: modules
        # What call_action calls, by the name it imported.
        named = functools.cache(utils.method_names_from_class)
        vars(responses)["method_names_from_class"] = named
        _installed = True
