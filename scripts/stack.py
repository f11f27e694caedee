"""The one description of the stack.

Deploy creates what is declared here, destroy removes it, and the gateway emulator
serves what deploy made from it. Nothing else spells these names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from chat import config, rules

ROOT = Path(__file__).resolve().parent.parent
HANDLERS_DIR = ROOT / "handlers"
FRONTEND_DIR = ROOT / "frontend"
BUILD_DIR = ROOT / ".build"
STATE_DIR = ROOT / ".chat"

RUNTIME = "python3.12"
ROUTE_SELECTION_EXPRESSION = "$request.body.action"
DEFAULT_STAGE = "local"
DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class Index:
    name: str
    hash_key: str
    range_key: str | None = None


@dataclass(frozen=True)
class Table:
    env_var: str  # the function environment variable that carries the name
    hash_key: str
    range_key: str | None = None
    indexes: tuple[Index, ...] = ()
    ttl_attribute: str | None = None
    name: str | None = None  # default: the chat's default name for env_var

    @property
    def base_name(self) -> str:
        return self.name or config.DEFAULT_TABLES[self.env_var]


@dataclass(frozen=True)
class Function:
    base_name: str
    handler: str  # "module.function": module.py at the package root
    route_key: str | None  # None for a function that serves no route (an authorizer)
    timeout: int = 10
    memory: int = 256
    two_way: bool = False  # a route response sends the handler's result back
    extra_modules: tuple[str, ...] = ()  # other top-level modules its zip needs

    @property
    def module(self) -> str:
        return self.handler.rpartition(".")[0]


@dataclass(frozen=True)
class Authorizer:
    """A Lambda REQUEST authorizer on ``$connect``."""

    name: str
    function: Function
    identity_sources: tuple[str, ...]  # e.g. ("route.request.querystring.token",)


TABLES = (
    Table(
        env_var=config.CONNECTIONS_TABLE,
        hash_key="connectionId",
        indexes=(Index(config.CONNECTIONS_BY_USER_INDEX, "userId"),),
        ttl_attribute="expiresAt",
    ),
    Table(
        env_var=config.ROOMS_TABLE,
        hash_key="roomId",
        range_key="sk",
        indexes=(Index(config.ROOMS_BY_USER_INDEX, "userId", "roomId"),),
    ),
    Table(env_var=config.MESSAGES_TABLE, hash_key="roomId", range_key="sk"),
)

FUNCTIONS = (
    Function("connect", "connect.handler", "$connect"),
    Function("disconnect", "disconnect.handler", "$disconnect"),
    Function("default", "default.handler", "$default"),
    Function("create-room", "create_room.handler", rules.CREATE_ROOM),
    Function("join-room", "join_room.handler", rules.JOIN_ROOM),
    Function("send-message", "send_message.handler", rules.SEND_MESSAGE, timeout=15),
    Function("get-members", "get_members.handler", rules.GET_MEMBERS),
    Function("list-rooms", "list_rooms.handler", rules.LIST_ROOMS),
    Function("get-history", "get_history.handler", rules.GET_HISTORY),
    Function("leave-room", "leave_room.handler", rules.LEAVE_ROOM),
    Function("typing", "typing_indicator.handler", rules.TYPING),
    Function("edit-message", "edit_message.handler", rules.EDIT_MESSAGE),
    Function("delete-message", "delete_message.handler", rules.DELETE_MESSAGE),
    Function("remove-member", "remove_member.handler", rules.REMOVE_MEMBER),
    Function("transfer-admin", "transfer_admin.handler", rules.TRANSFER_ADMIN),
    Function("get-room", "get_room.handler", rules.GET_ROOM),
)

# The client files uploaded to the website bucket; config.js is written at deploy.
FRONTEND_FILES = {
    "index.html": "text/html; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
}
CLIENT_CONFIG_KEY = "config.js"


PREFIX_PATTERN = re.compile(r"[a-z][a-z0-9-]{0,19}")
STAGE_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
REGION_PATTERN = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")


class StackError(ValueError):
    """A stack description that AWS would refuse; the message says which part."""


@dataclass(frozen=True)
class Stack:
    """The names of one deployed copy of the stack; ``prefix`` lets several coexist."""

    prefix: str = ""
    stage: str = DEFAULT_STAGE
    region: str = DEFAULT_REGION
    tables: tuple[Table, ...] = field(default=TABLES)
    functions: tuple[Function, ...] = field(default=FUNCTIONS)
    source: Path = HANDLERS_DIR  # the functions' code: entry modules + shared packages
    website: bool = True
    authorizer: Authorizer | None = None
    name: str = "chat"  # what the API, role and functions are called after
    route_selection_expression: str = ROUTE_SELECTION_EXPRESSION

    def __post_init__(self) -> None:
        if self.prefix and not PREFIX_PATTERN.fullmatch(self.prefix):
            raise StackError(
                f"prefix {self.prefix!r}: use 1-20 lowercase letters, digits or '-', "
                "starting with a letter (it becomes part of bucket and function names)"
            )
        if not STAGE_PATTERN.fullmatch(self.stage):
            raise StackError(f"stage {self.stage!r}: use 1-64 letters, digits, '-' or '_'")
        if not REGION_PATTERN.fullmatch(self.region):
            raise StackError(f"region {self.region!r} is not a region name like eu-west-1")

    @property
    def stack_id(self) -> str:
        """The value of the tag that marks resources as this stack's."""
        return f"{self.name}/{self.prefix or 'default'}"

    @property
    def all_functions(self) -> tuple[Function, ...]:
        extra = (self.authorizer.function,) if self.authorizer else ()
        return self.functions + extra

    def _named(self, name: str, sep: str = "-") -> str:
        return f"{self.prefix}{sep}{name}" if self.prefix else name

    def table_name(self, table: Table) -> str:
        return self._named(table.base_name)

    def function_name(self, function: Function) -> str:
        return self._named(f"{self.name}-{function.base_name}")

    @property
    def role_name(self) -> str:
        return self._named(f"{self.name}-lambda")

    @property
    def api_name(self) -> str:
        return self._named(f"{self.name}-websocket")

    def bucket_name(self, account_id: str) -> str:
        return self._named(f"{self.name}-web-{account_id}-{self.region}")

    def environment(self) -> dict[str, str]:
        """The environment every function gets: where its tables are."""
        return {t.env_var: self.table_name(t) for t in self.tables}

    def route_function(self) -> dict[str, Function]:
        return {f.route_key: f for f in self.functions if f.route_key is not None}

    def outputs_path(self, target: str) -> Path:
        return STATE_DIR / f"outputs-{target}{'-' + self.prefix if self.prefix else ''}.json"
