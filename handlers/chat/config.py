"""The only module that reads the environment.

The variable names are also what deploy writes into each function's configuration,
so ``scripts/stack.py`` imports them from here rather than spelling them again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

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
class Settings:
    connections_table: str
    rooms_table: str
    messages_table: str
    log_level: str


def load() -> Settings:
    """Read the settings from the environment, with the documented defaults."""
    env = os.environ
    return Settings(
        connections_table=env.get(CONNECTIONS_TABLE) or DEFAULT_TABLES[CONNECTIONS_TABLE],
        rooms_table=env.get(ROOMS_TABLE) or DEFAULT_TABLES[ROOMS_TABLE],
        messages_table=env.get(MESSAGES_TABLE) or DEFAULT_TABLES[MESSAGES_TABLE],
        log_level=env.get(LOG_LEVEL) or "INFO",
    )
