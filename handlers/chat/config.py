"""The only module that reads the environment.

The variable names are also what deploy writes into each function's configuration,
so ``scripts/stack.py`` imports them from here rather than spelling them again.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields

CONNECTIONS_TABLE = "CONNECTIONS_TABLE"
ROOMS_TABLE = "ROOMS_TABLE"
MESSAGES_TABLE = "MESSAGES_TABLE"
LOG_LEVEL = "LOG_LEVEL"

DEFAULT_TABLES = {
    CONNECTIONS_TABLE: "ChatConnections",
    ROOMS_TABLE: "ChatRooms",
    MESSAGES_TABLE: "ChatMessages",
}

# Indexes the store queries; deploy creates them under these names.
ROOMS_BY_USER_INDEX = "byUser"
CONNECTIONS_BY_USER_INDEX = "byUser"


@dataclass(frozen=True)
class Limits:
    """What one client may ask of the chat; each can be set by the variable of its name
    in upper case (``RATE_WINDOW_SECONDS=10``)."""

    # Requests (frames) per window, counted per connection and per user.
    rate_window_seconds: int = 10
    rate_per_connection: int = 100
    rate_per_user: int = 200
    # Open connections (tabs) per user.
    max_connections_per_user: int = 10
    # Join requests waiting for an admin, per room and per requester.
    max_pending_per_room: int = 50
    max_pending_per_user: int = 20
    # Seconds between probes of the connections of a room's pending members.
    presence_probe_seconds: int = 30

    @classmethod
    def variables(cls) -> tuple[str, ...]:
        """The environment variables that set the limits."""
        return tuple(f.name.upper() for f in fields(cls))

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Limits:
        values = {}
        for f in fields(cls):
            raw = env.get(f.name.upper())
            if raw:
                values[f.name] = int(raw)
        return cls(**values)


@dataclass(frozen=True)
class Settings:
    connections_table: str
    rooms_table: str
    messages_table: str
    log_level: str
    limits: Limits = Limits()


def load() -> Settings:
    """Read the settings from the environment, with the documented defaults."""
    env = os.environ
    return Settings(
        connections_table=env.get(CONNECTIONS_TABLE) or DEFAULT_TABLES[CONNECTIONS_TABLE],
        rooms_table=env.get(ROOMS_TABLE) or DEFAULT_TABLES[ROOMS_TABLE],
        messages_table=env.get(MESSAGES_TABLE) or DEFAULT_TABLES[MESSAGES_TABLE],
        log_level=env.get(LOG_LEVEL) or "INFO",
        limits=Limits.from_env(env),
    )
