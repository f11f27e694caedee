"""A WebSocket API stack, described once: tables, functions, routes, authorizer, website.

Deploy (:mod:`emulator.deploy`) creates what a :class:`Stack` declares, destroy removes
it, and the gateway emulator serves what deploy made. A stack is written in Python
(the chat's ``scripts/stack.py``) or read from a SAM or CloudFormation template
(:mod:`emulator.template`). Every mistake AWS would refuse is a :class:`StackError`
whose message names the part that is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Lambda's own defaults, for functions that don't say.
DEFAULT_TIMEOUT = 3
DEFAULT_MEMORY = 128
DEFAULT_RUNTIME = "python3.12"
DEFAULT_STAGE = "local"
DEFAULT_REGION = "us-east-1"
DEFAULT_ROUTE_SELECTION = "$request.body.action"

# Stands for the API's id in a function's environment: deploy knows it only once the
# API exists, and puts it in place of this before the function is created or compared.
API_ID = "{{api-id}}"

KEY_TYPES = ("S", "N", "B")
PROJECTIONS = ("ALL", "KEYS_ONLY", "INCLUDE")
CONTENT_HANDLING = ("CONVERT_TO_BINARY", "CONVERT_TO_TEXT")
SPECIAL_ROUTES = ("$connect", "$disconnect", "$default")
# Variables Lambda sets itself; AWS refuses a function configuration that sets them.
RESERVED_VARIABLES = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)

PREFIX_PATTERN = re.compile(r"[a-z][a-z0-9-]{0,19}")
STAGE_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,128}")
REGION_PATTERN = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")
TABLE_NAME_PATTERN = re.compile(r"[A-Za-z0-9_.-]{3,255}")
FUNCTION_NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
BUCKET_NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
VARIABLE_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_]+")
HANDLER_PATTERN = re.compile(r"[A-Za-z_][\w.]*\.[A-Za-z_]\w*")
ANY_HANDLER_PATTERN = re.compile(r"[^\s]{1,128}")  # Lambda's: Node.js paths, custom runtimes
ROUTE_SELECTION_PATTERN = re.compile(r"\$request\.body\.[\w.-]+|\$\{request\.body\.[\w.-]+\}")
# AWS allows at most 128 characters in a route key.
ROUTE_KEY_MAX = 128


class StackError(ValueError):
    """A stack description that AWS would refuse; the message says which part."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise StackError(message)


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
        _require(
            bool(TABLE_NAME_PATTERN.fullmatch(self.name)),
            f"{what}: a table name is 3-255 letters, digits, '_', '-' or '.'",
        )
        _require(bool(self.hash_key), f"{what} needs a hash key")
        for attribute, kind in self.key_types:
            _require(
                kind in KEY_TYPES,
                f"{what}: key attribute {attribute!r} has type {kind!r}; "
                "DynamoDB keys are S (string), N (number) or B (binary)",
            )
            _require(
                attribute in self.key_attributes,
                f"{what}: {attribute!r} has a type but is no key of the table or its indexes",
            )
        names = [i.name for i in self.indexes]
        _require(len(names) == len(set(names)), f"{what}: two indexes share a name")
        for index in self.indexes:
            _require(
                index.projection in PROJECTIONS,
                f"{what}: index {index.name!r} projection must be one of {', '.join(PROJECTIONS)}",
            )
            if index.local:
                _require(
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
        _require(
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
        _require(
            0 < len(self.key) <= ROUTE_KEY_MAX,
            f"route key {self.key!r}: 1-{ROUTE_KEY_MAX} characters",
        )
        _require(
            not self.key.startswith("$") or self.key in SPECIAL_ROUTES,
            f"route key {self.key!r}: the only route keys starting with '$' are "
            + ", ".join(SPECIAL_ROUTES),
        )
        _require(
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
        _require(bool(self.runtime), f"{what} needs a runtime (e.g. python3.12)")
        if self.runtime.startswith("python"):
            _require(
                bool(HANDLER_PATTERN.fullmatch(self.handler)),
                f"{what}: handler {self.handler!r} must be 'module.function' (e.g. app.handler)",
            )
        else:
            _require(
                bool(ANY_HANDLER_PATTERN.fullmatch(self.handler)),
                f"{what}: handler {self.handler!r} must be 1-128 characters, no spaces",
            )
        _require(1 <= self.timeout <= 900, f"{what}: timeout must be 1-900 seconds")
        _require(128 <= self.memory <= 10240, f"{what}: memory must be 128-10240 MB")
        for variable, value in self.environment:
            _require(
                bool(VARIABLE_PATTERN.fullmatch(variable)),
                f"{what}: environment variable {variable!r} must be 2 or more letters, "
                "digits or '_', starting with a letter",
            )
            _require(
                variable not in RESERVED_VARIABLES,
                f"{what}: {variable} is reserved by Lambda and can't be set",
            )
            _require(
                isinstance(value, str),
                f"{what}: environment variable {variable} must be a string",
            )
        if self.code is not None:
            _require(self.code.is_dir(), f"{what}: code directory {self.code} does not exist")
        else:
            _require(has_source, f"{what} has no code: give it code=<directory>")
        if self.function_name is not None:
            _require(
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


@dataclass(frozen=True)
class Stack:
    """The names of one deployed copy of a stack; ``prefix`` lets several coexist."""

    name: str  # what the API, role and functions are named after
    functions: tuple[Function, ...]
    tables: tuple[Table, ...] = ()
    prefix: str = ""
    stage: str = DEFAULT_STAGE
    region: str = DEFAULT_REGION
    source: Path | None = None  # code of the functions that have no ``code`` of their own
    authorizer: Authorizer | None = None
    website: Website | None = None
    buckets: tuple[str, ...] = ()  # plain buckets (before the prefix)
    route_selection_expression: str = DEFAULT_ROUTE_SELECTION
    api_title: str | None = None  # the API's name, when the description fixes it
    throttle: Throttle | None = None  # the stage's default limits for every route

    def __post_init__(self) -> None:
        if self.prefix:
            _require(
                bool(PREFIX_PATTERN.fullmatch(self.prefix)),
                f"prefix {self.prefix!r}: use 1-20 lowercase letters, digits or '-', "
                "starting with a letter (it becomes part of bucket and function names)",
            )
        _require(
            bool(STAGE_PATTERN.fullmatch(self.stage)),
            f"stage {self.stage!r}: use 1-128 letters, digits, '-' or '_'",
        )
        _require(
            bool(REGION_PATTERN.fullmatch(self.region)),
            f"region {self.region!r} is not a region name like eu-west-1",
        )
        _require(
            bool(ROUTE_SELECTION_PATTERN.fullmatch(self.route_selection_expression)),
            f"route selection expression {self.route_selection_expression!r}: the emulator "
            "routes on $request.body.<path> (e.g. $request.body.action)",
        )
        for table in self.tables:
            table.validate()
        for function in self.all_functions:
            function.validate(self.source is not None)
        _unique("table", [self.table_name(t) for t in self.tables])
        _unique("function", [f.name for f in self.all_functions])
        _unique("function name", [self.function_name(f) for f in self.all_functions])
        _unique("route", [r.key for f in self.functions for r in f.routes])
        _unique("table variable", [t.env_var for t in self.tables if t.env_var])
        for name in (self.function_name(f) for f in self.all_functions):
            _require(
                bool(FUNCTION_NAME_PATTERN.fullmatch(name)),
                f"function name {name!r} must be 1-64 letters, digits, '-' or '_'",
            )
        for bucket in self.buckets:
            _require(
                bool(BUCKET_NAME_PATTERN.fullmatch(self._named(bucket))),
                f"bucket {bucket!r}: 3-63 lowercase letters, digits, '.' or '-'",
            )
        if self.throttle is not None:
            self.throttle.validate(f"stage {self.stage!r}")
        _require(
            bool(self.functions),
            "the stack has no functions, so its API would have no routes",
        )
        if self.authorizer is not None:
            _require(
                "$connect" in self.route_function(),
                "an authorizer runs on $connect, but no function serves $connect",
            )
            _require(
                bool(self.authorizer.identity_sources),
                f"authorizer {self.authorizer.name!r} needs at least one identity source",
            )
            for source in self.authorizer.identity_sources:
                _require(
                    source.startswith(("route.request.header.", "route.request.querystring.")),
                    f"authorizer identity source {source!r}: use route.request.header.<name> "
                    "or route.request.querystring.<name>",
                )

    @property
    def stack_id(self) -> str:
        """The value of the tag that marks resources as this stack's (one per region)."""
        return f"{self.name}/{self.prefix or 'default'}/{self.region}"

    @property
    def all_functions(self) -> tuple[Function, ...]:
        extra = (self.authorizer.function,) if self.authorizer else ()
        return self.functions + extra

    def _named(self, name: str, sep: str = "-") -> str:
        return f"{self.prefix}{sep}{name}" if self.prefix else name

    def table_name(self, table: Table) -> str:
        return self._named(table.name)

    def function_name(self, function: Function) -> str:
        return self._named(function.function_name or f"{self.name}-{function.name}")

    def bucket(self, name: str) -> str:
        return self._named(name)

    @property
    def role_name(self) -> str:
        # IAM is global: the region keeps two regions' stacks from sharing one role.
        return self._named(f"{self.name}-lambda-{self.region}")

    @property
    def api_name(self) -> str:
        return self._named(self.api_title or f"{self.name}-websocket")

    def website_bucket(self, account_id: str) -> str:
        return self._named(f"{self.name}-web-{account_id}-{self.region}")

    def environment(self, function: Function) -> dict[str, str]:
        """A function's environment: where the stack's tables are, then its own variables."""
        env = {t.env_var: self.table_name(t) for t in self.tables if t.env_var}
        env.update(function.environment)
        return env

    def route_function(self) -> dict[str, tuple[Function, Route]]:
        """Each route key with the function that serves it."""
        return {r.key: (f, r) for f in self.functions for r in f.routes}


def _unique(kind: str, names: Iterable[str]) -> None:
    seen: set[str] = set()
    for name in names:
        _require(name not in seen, f"two {kind}s are named {name!r}")
        seen.add(name)


def variables(mapping: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """Environment variables as a Function takes them, in a stable order."""
    return tuple(sorted(mapping.items()))
