"""The parts of a :class:`~emulator.stack.Stack`: tables and their indexes, functions
and the routes they serve, route throttles, the authorizer and the website. Each part
checks itself against AWS's rules (:mod:`emulator.stack_rules`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator.stack_rules import (
    ANY_HANDLER_PATTERN,
    CONTENT_HANDLING,
    DEFAULT_MEMORY,
    DEFAULT_RUNTIME,
    DEFAULT_TIMEOUT,
    FUNCTION_NAME_PATTERN,
    HANDLER_PATTERN,
    KEY_TYPES,
    PROJECTIONS,
    RESERVED_VARIABLES,
    ROUTE_KEY_MAX,
    SPECIAL_ROUTES,
    TABLE_NAME_PATTERN,
    VARIABLE_PATTERN,
    require,
)


@dataclass(frozen=True)
class Index:
    """A secondary index: global by default, local (same hash key) when ``local``."""

    name: str
    hash_key: str
    range_key: str | None = None
    local: bool = False
    projection: str = "ALL"
    non_key_attributes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Table:
    """A DynamoDB table. Key attributes are strings unless ``key_types`` says otherwise."""

    name: str  # before the stack's prefix
    hash_key: str
    range_key: str | None = None
    indexes: tuple[Index, ...] = ()
    ttl_attribute: str | None = None
    key_types: tuple[tuple[str, str], ...] = ()  # e.g. (("sentAt", "N"),)
    env_var: str | None = None  # every function gets the table's name in this variable

    def key_type(self, attribute: str) -> str:
        return dict(self.key_types).get(attribute, "S")

    @property
    def key_attributes(self) -> list[str]:
        keys = [self.hash_key, self.range_key]
        for index in self.indexes:
            keys += [index.hash_key, index.range_key]
        return sorted({k for k in keys if k})

    def validate(self) -> None:
        what = f"table {self.name!r}"
        require(
            bool(TABLE_NAME_PATTERN.fullmatch(self.name)),
            f"{what}: a table name is 3-255 letters, digits, '_', '-' or '.'",
        )
        require(bool(self.hash_key), f"{what} needs a hash key")
        for attribute, kind in self.key_types:
            require(
                kind in KEY_TYPES,
                f"{what}: key attribute {attribute!r} has type {kind!r}; "
                "DynamoDB keys are S (string), N (number) or B (binary)",
            )
            require(
                attribute in self.key_attributes,
                f"{what}: {attribute!r} has a type but is no key of the table or its indexes",
            )
        names = [i.name for i in self.indexes]
        require(len(names) == len(set(names)), f"{what}: two indexes share a name")
        for index in self.indexes:
            require(
                index.projection in PROJECTIONS,
                f"{what}: index {index.name!r} projection must be one of {', '.join(PROJECTIONS)}",
            )
            if index.local:
                require(
                    index.hash_key == self.hash_key and index.range_key is not None,
                    f"{what}: local index {index.name!r} must have the table's hash key "
                    "and a range key of its own",
                )


@dataclass(frozen=True)
class Throttle:
    """API Gateway's token bucket for a route: ``burst`` requests at once, ``rate`` a second."""

    burst: int
    rate: float

    def validate(self, what: str) -> None:
        require(
            self.burst >= 0 and self.rate >= 0,
            f"{what}: throttling burst and rate must be 0 or more",
        )

    def settings(self) -> dict[str, float | int]:
        """As a stage's route settings spell it."""
        return {"ThrottlingBurstLimit": self.burst, "ThrottlingRateLimit": float(self.rate)}

    @classmethod
    def from_settings(cls, settings: Any) -> Throttle | None:
        """From a stage's route settings, when both limits are set; else None.

        Raises TypeError or ValueError when a limit is not a number.
        """
        if not isinstance(settings, Mapping):
            return None
        burst, rate = settings.get("ThrottlingBurstLimit"), settings.get("ThrottlingRateLimit")
        if burst is None or rate is None:
            return None
        return cls(int(burst), float(rate))


@dataclass(frozen=True)
class Route:
    """A route of the WebSocket API and what API Gateway does around the call."""

    key: str
    two_way: bool = False  # a route response sends the integration's result back
    content_handling: str | None = None  # the integration's ContentHandlingStrategy
    throttle: Throttle | None = None  # this route's own limits on the stage

    def validate(self) -> None:
        require(
            0 < len(self.key) <= ROUTE_KEY_MAX,
            f"route key {self.key!r}: 1-{ROUTE_KEY_MAX} characters",
        )
        require(
            not self.key.startswith("$") or self.key in SPECIAL_ROUTES,
            f"route key {self.key!r}: the only route keys starting with '$' are "
            + ", ".join(SPECIAL_ROUTES),
        )
        require(
            self.content_handling is None or self.content_handling in CONTENT_HANDLING,
            f"route {self.key!r}: content handling must be one of {', '.join(CONTENT_HANDLING)}",
        )
        if self.throttle is not None:
            self.throttle.validate(f"route {self.key!r}")


@dataclass(frozen=True)
class Function:
    """A Lambda function and the routes it serves.

    Its code is either ``code``, a directory zipped whole (as ``sam build`` does, with
    the dependencies of a ``requirements.txt`` inside, unless ``packaged`` says the
    directory already is what Lambda gets), or, when ``code`` is None, the stack's
    ``source``: the entry module plus the shared packages beside it.
    """

    name: str  # within the stack; the deployed name is the stack's name for it
    handler: str  # "module.function"
    routes: tuple[Route, ...] = ()
    timeout: int = DEFAULT_TIMEOUT
    memory: int = DEFAULT_MEMORY
    environment: tuple[tuple[str, str], ...] = ()
    code: Path | None = None
    extra_modules: tuple[str, ...] = ()  # other top-level modules of ``source`` its zip needs
    runtime: str = DEFAULT_RUNTIME
    function_name: str | None = None  # the deployed name, when the description fixes it
    packaged: bool = False  # ``code`` holds its dependencies: no requirements.txt install

    @property
    def module(self) -> str:
        return self.handler.rpartition(".")[0]

    def validate(self, has_source: bool) -> None:
        what = f"function {self.name!r}"
        # Any runtime is accepted here: the runner names those it doesn't run.
        require(bool(self.runtime), f"{what} needs a runtime (e.g. python3.12)")
        if self.runtime.startswith("python"):
            require(
                bool(HANDLER_PATTERN.fullmatch(self.handler)),
                f"{what}: handler {self.handler!r} must be 'module.function' (e.g. app.handler)",
            )
        else:
            require(
                bool(ANY_HANDLER_PATTERN.fullmatch(self.handler)),
                f"{what}: handler {self.handler!r} must be 1-128 characters, no spaces",
            )
        require(1 <= self.timeout <= 900, f"{what}: timeout must be 1-900 seconds")
        require(128 <= self.memory <= 10240, f"{what}: memory must be 128-10240 MB")
        for variable, value in self.environment:
            require(
                bool(VARIABLE_PATTERN.fullmatch(variable)),
                f"{what}: environment variable {variable!r} must be 2 or more letters, "
                "digits or '_', starting with a letter",
            )
            require(
                variable not in RESERVED_VARIABLES,
                f"{what}: {variable} is reserved by Lambda and can't be set",
            )
            require(
                isinstance(value, str),
                f"{what}: environment variable {variable} must be a string",
            )
        if self.code is not None:
            require(self.code.is_dir(), f"{what}: code directory {self.code} does not exist")
        else:
            require(has_source, f"{what} has no code: give it code=<directory>")
        if self.function_name is not None:
            require(
                bool(FUNCTION_NAME_PATTERN.fullmatch(self.function_name)),
                f"{what}: function name {self.function_name!r} must be 1-64 letters, "
                "digits, '-' or '_'",
            )
        for route in self.routes:
            route.validate()


@dataclass(frozen=True)
class Authorizer:
    """A Lambda REQUEST authorizer on ``$connect``."""

    name: str
    function: Function
    identity_sources: tuple[str, ...]  # e.g. ("route.request.querystring.token",)


@dataclass(frozen=True)
class Website:
    """Static files for a website bucket, plus a generated ``config.js`` for the client."""

    directory: Path
    files: tuple[tuple[str, str], ...]  # (file name, content type)
    config_file: str = "config.js"
    config_global: str = "APP_CONFIG"  # config.js sets window.<this> = {"websocketUrl": …}

    @property
    def keys(self) -> list[str]:
        return [name for name, _ in self.files] + [self.config_file]
