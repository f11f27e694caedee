"""A WebSocket API stack, described once: tables, functions, routes, authorizer, website.

Deploy (:mod:`emulator.deploy`) creates what a :class:`Stack` declares, destroy removes
it, and the gateway emulator serves what deploy made. A stack is written in Python
(the chat's ``scripts/stack.py``) or read from a SAM or CloudFormation template
(:mod:`emulator.template`). Every mistake AWS would refuse is a :class:`StackError`
whose message names the part that is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

# The parts and the rules are defined beside this module; the stack model is imported
# from here, by the emulator and by the stacks written in Python alike.
from emulator.stack_parts import Authorizer, Function, Index, Route, Table, Throttle, Website
from emulator.stack_rules import (
    API_ID,
    BUCKET_NAME_PATTERN,
    DEFAULT_MEMORY,
    DEFAULT_REGION,
    DEFAULT_ROUTE_SELECTION,
    DEFAULT_RUNTIME,
    DEFAULT_STAGE,
    DEFAULT_TIMEOUT,
    FUNCTION_NAME_PATTERN,
    PREFIX_PATTERN,
    REGION_PATTERN,
    ROUTE_SELECTION_PATTERN,
    STAGE_PATTERN,
    StackError,
    require,
    unique,
)

__all__ = [
    "API_ID",
    "DEFAULT_MEMORY",
    "DEFAULT_REGION",
    "DEFAULT_ROUTE_SELECTION",
    "DEFAULT_RUNTIME",
    "DEFAULT_STAGE",
    "DEFAULT_TIMEOUT",
    "Authorizer",
    "Function",
    "Index",
    "Route",
    "Stack",
    "StackError",
    "Table",
    "Throttle",
    "Website",
    "variables",
]


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
            require(
                bool(PREFIX_PATTERN.fullmatch(self.prefix)),
                f"prefix {self.prefix!r}: use 1-20 lowercase letters, digits or '-', "
                "starting with a letter (it becomes part of bucket and function names)",
            )
        require(
            bool(STAGE_PATTERN.fullmatch(self.stage)),
            f"stage {self.stage!r}: use 1-128 letters, digits, '-' or '_'",
        )
        require(
            bool(REGION_PATTERN.fullmatch(self.region)),
            f"region {self.region!r} is not a region name like eu-west-1",
        )
        require(
            bool(ROUTE_SELECTION_PATTERN.fullmatch(self.route_selection_expression)),
            f"route selection expression {self.route_selection_expression!r}: the emulator "
            "routes on $request.body.<path> (e.g. $request.body.action)",
        )
        for table in self.tables:
            table.validate()
        for function in self.all_functions:
            function.validate(self.source is not None)
        unique("table", [self.table_name(t) for t in self.tables])
        unique("function", [f.name for f in self.all_functions])
        unique("function name", [self.function_name(f) for f in self.all_functions])
        unique("route", [r.key for f in self.functions for r in f.routes])
        unique("table variable", [t.env_var for t in self.tables if t.env_var])
        for name in (self.function_name(f) for f in self.all_functions):
            require(
                bool(FUNCTION_NAME_PATTERN.fullmatch(name)),
                f"function name {name!r} must be 1-64 letters, digits, '-' or '_'",
            )
        for bucket in self.buckets:
            require(
                bool(BUCKET_NAME_PATTERN.fullmatch(self._named(bucket))),
                f"bucket {bucket!r}: 3-63 lowercase letters, digits, '.' or '-'",
            )
        if self.throttle is not None:
            self.throttle.validate(f"stage {self.stage!r}")
        require(
            bool(self.functions),
            "the stack has no functions, so its API would have no routes",
        )
        if self.authorizer is not None:
            require(
                "$connect" in self.route_function(),
                "an authorizer runs on $connect, but no function serves $connect",
            )
            require(
                bool(self.authorizer.identity_sources),
                f"authorizer {self.authorizer.name!r} needs at least one identity source",
            )
            for source in self.authorizer.identity_sources:
                require(
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


def variables(mapping: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """Environment variables as a Function takes them, in a stable order."""
    return tuple(sorted(mapping.items()))
