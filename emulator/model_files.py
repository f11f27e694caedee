"""How our clients and moto read the services' model files: fast, and once per process.

- :class:`ModelFiles` reads a file into plain dicts, through the cache of decoded files
  (:mod:`emulator.model_cache`), one copy per process of the files both loaders read.
- :class:`QuickServiceCheck` answers "is there such a service?" from that service's
  folder. botocore's loader asks it before reading any model, by listing every service
  it knows (a ``listdir`` of each of 400-odd folders and a ``stat`` per API version, 15
  to 20 ms), once per kind of file (``service-2``, ``paginators-1``, ``waiters-2``,
  ``endpoint-rule-set-1``): six listings, about a tenth of a second, before the example
  project's deploy. The whole list is still made, once, for whoever reads it.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable, Iterator, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any, overload

import botocore.exceptions
import botocore.loaders

from emulator import model_cache


class ModelFiles(botocore.loaders.JSONFileLoader):  # type: ignore[misc]
    """Reads the services' model files into plain dicts.

    botocore reads them into OrderedDicts, for an order that plain dicts have kept since
    Python 3.7 and that nothing it or moto does with a model depends on otherwise: they
    took twice the time to read and half as much memory again (lambda's model: 10 ms and
    1.9 MB as OrderedDicts, 5 ms and 1.2 MB as dicts; the endpoints file 6.7 MB, 3.9 MB).
    Decoded, they are kept between runs (:mod:`emulator.model_cache`).
    """

    def _load_file(self, full_path: str, open_method: Callable[..., Any]) -> Any:
        def decode() -> Any:
            with open_method(full_path, "rb") as file:
                return json.loads(file.read().decode("utf-8"))

        if _shareable(full_path):  # moto's loader reads it too
            return model_cache.load_shared(full_path, decode)
        return model_cache.load(full_path, decode)


@cache
def _shareable(full_path: str) -> bool:
    """Whether a model file can be shared: asked by each loader that reads it, answered
    once (a dozen ``stat``s of the extras it might have)."""
    return model_cache.unextended(full_path, _extras_roots())


@cache
def _extras_roots() -> tuple[str, ...]:
    """Where a model's extras files may be: botocore's data (and the user's own), and
    moto's models when moto is installed (found without importing it)."""
    loader = botocore.loaders.Loader
    roots = [loader.BUILTIN_DATA_PATH, loader.CUSTOMER_DATA_PATH]
    moto = importlib.util.find_spec("moto")
    if moto is not None and moto.submodule_search_locations:
        roots += list(moto.submodule_search_locations)
    return tuple(roots)


class _KnownServices(Sequence[str]):
    """A loader's services with files of one kind: membership from the service's own
    folder, the whole sorted list (botocore's own answer) only when it is read."""

    def __init__(self, loader: QuickServiceCheck, type_name: str) -> None:
        self._loader = loader
        self._type_name = type_name

    def __contains__(self, service: object) -> bool:
        if not isinstance(service, str):
            return False
        try:  # what the full list holds: a service with such a file in some API version
            return bool(self._loader.list_api_versions(service, self._type_name))
        except botocore.exceptions.DataNotFoundError:
            return False

    def _all(self) -> list[str]:
        return self._loader.all_services(self._type_name)

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        return self._all()[index]

    def __len__(self) -> int:
        return len(self._all())

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())


class QuickServiceCheck:
    """A mixin for a botocore ``Loader`` (see the module's docstring)."""

    def list_available_services(self, type_name: str) -> Sequence[str]:
        return _KnownServices(self, type_name)

    def all_services(self, type_name: str) -> list[str]:
        return super().list_available_services(type_name)  # type: ignore[misc,no-any-return]

    if TYPE_CHECKING:  # botocore's, which the loader this is mixed into has

        def list_api_versions(self, service_name: str, type_name: str) -> list[str]: ...


class _Loader(QuickServiceCheck, botocore.loaders.Loader):  # type: ignore[misc]
    """botocore's loader, checking a service's name from its own folder."""


@cache
def shared_loader() -> botocore.loaders.Loader:
    """The one loader of botocore's models our clients share (as plain dicts)."""
    return _Loader(file_loader=ModelFiles())
