"""The chat's stack: its tables, functions, routes and website, declared once.

Deploy creates what is declared here, destroy removes it, and the gateway emulator
serves what deploy made from it. Nothing else spells these names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from chat import config, rules
from emulator.stack import (
    DEFAULT_REGION,
    Function,
    Index,
    Route,
    Stack,
    Table,
    Throttle,
    Website,
)

ROOT = Path(__file__).resolve().parent.parent
HANDLERS_DIR = ROOT / "handlers"
FRONTEND_DIR = ROOT / "frontend"
STATE_DIR = ROOT / ".chat"

TABLES = (
    Table(
        name=config.DEFAULT_TABLES[config.CONNECTIONS_TABLE],
        env_var=config.CONNECTIONS_TABLE,
        hash_key="connectionId",
        indexes=(Index(config.CONNECTIONS_BY_USER_INDEX, "userId"),),
        ttl_attribute="expiresAt",
    ),
    Table(
        name=config.DEFAULT_TABLES[config.ROOMS_TABLE],
        env_var=config.ROOMS_TABLE,
        hash_key="roomId",
        range_key="sk",
        indexes=(Index(config.ROOMS_BY_USER_INDEX, "userId", "roomId"),),
    ),
    Table(
        name=config.DEFAULT_TABLES[config.MESSAGES_TABLE],
        env_var=config.MESSAGES_TABLE,
        hash_key="roomId",
        range_key="sk",
    ),
)


def _function(name: str, handler: str, route_key: str, timeout: int = 10) -> Function:
    """One function per route, each with its own package (entry module + ``chat/``)."""
    return Function(name, handler, routes=(Route(route_key),), timeout=timeout, memory=256)


FUNCTIONS = (
    _function("connect", "connect.handler", "$connect"),
    _function("disconnect", "disconnect.handler", "$disconnect"),
    _function("default", "default.handler", "$default"),
    _function("create-room", "create_room.handler", rules.CREATE_ROOM),
    _function("join-room", "join_room.handler", rules.JOIN_ROOM),
    _function("send-message", "send_message.handler", rules.SEND_MESSAGE, timeout=15),
    _function("get-members", "get_members.handler", rules.GET_MEMBERS),
    _function("list-rooms", "list_rooms.handler", rules.LIST_ROOMS),
    _function("get-history", "get_history.handler", rules.GET_HISTORY),
    _function("leave-room", "leave_room.handler", rules.LEAVE_ROOM),
    _function("typing", "typing_indicator.handler", rules.TYPING),
    _function("edit-message", "edit_message.handler", rules.EDIT_MESSAGE),
    _function("delete-message", "delete_message.handler", rules.DELETE_MESSAGE),
    _function("remove-member", "remove_member.handler", rules.REMOVE_MEMBER),
    _function("transfer-admin", "transfer_admin.handler", rules.TRANSFER_ADMIN),
    _function("get-room", "get_room.handler", rules.GET_ROOM),
    _function("ping", "ping.handler", rules.PING),
    _function("rename", "rename.handler", rules.RENAME, timeout=20),  # many rooms
)

# API Gateway's throttle on every route of the stage: a ceiling for the whole API, not
# per user (the handlers limit each user and connection themselves).
THROTTLE = Throttle(burst=2000, rate=1000)

# The client files uploaded to the website bucket: the page, its style sheet and every
# ES module of the client (loaded by the browser as they are); config.js is written at deploy.
WEBSITE = Website(
    directory=FRONTEND_DIR,
    files=(
        ("index.html", "text/html; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
        *(
            (path.name, "text/javascript; charset=utf-8")
            for path in sorted(FRONTEND_DIR.glob("*.js"))
        ),
    ),
    config_global="CHAT_CONFIG",
)


def chat_stack(
    prefix: str = "",
    stage: str = "local",
    region: str = DEFAULT_REGION,
    limits: Mapping[str, int] | None = None,
) -> Stack:
    """The chat, named for one deployed copy; ``limits`` overrides the defaults of
    :class:`chat.config.Limits` in every function (``{"rate_per_user": 1000}``)."""
    environment = tuple(
        sorted((name.upper(), str(value)) for name, value in (limits or {}).items())
    )
    unknown = {name for name, _ in environment} - set(config.Limits.variables())
    if unknown:
        raise ValueError(f"no such limits: {', '.join(sorted(unknown))}")
    functions = tuple(replace(f, environment=f.environment + environment) for f in FUNCTIONS)
    return Stack(
        name="chat",
        prefix=prefix,
        stage=stage,
        region=region,
        tables=TABLES,
        functions=functions,
        source=HANDLERS_DIR,
        website=WEBSITE,
        throttle=THROTTLE,
    )


# What `python -m emulator serve scripts.stack:CHAT` (make local) runs.
CHAT = chat_stack()


def outputs_path(target: str, prefix: str = "", region: str = DEFAULT_REGION) -> Path:
    """Where deploy leaves what it made for one target, region and prefix."""
    return STATE_DIR / f"outputs-{target}-{region}{'-' + prefix if prefix else ''}.json"
