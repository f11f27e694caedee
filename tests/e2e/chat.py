"""What users do over the protocol, shared by the end-to-end tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chat import config
from chat.store import Store
from emulator.harness import Harness
from tests.client import ChatClient

MakeClient = Callable[..., ChatClient]


def create_room(admin: ChatClient, name: str = "Lobby") -> str:
    reply = admin.request("createRoom", expect="roomCreated", name=name)
    assert reply["type"] == "roomCreated", reply
    return str(reply["room"]["roomId"])


def join(admin: ChatClient, user: ChatClient, room_id: str) -> None:
    """user asks, admin approves, both see it happen."""
    assert user.request("joinRoom", expect="joinRequested", roomId=room_id)["type"] == (
        "joinRequested"
    )
    admin.wait_for("joinRequest", roomId=room_id)
    decided = admin.request(
        "joinRoom", expect="joinDecided", roomId=room_id, op="approve", userId=user.user_id
    )
    assert decided["status"] == "approved", decided
    assert user.wait_for("joinDecision", status="approved")["room"]["roomId"] == room_id


def members_of(client: ChatClient, room_id: str) -> dict[str, dict[str, Any]]:
    reply = client.request("getMembers", expect="members", roomId=room_id)
    assert reply["type"] == "members", reply
    return {m["name"]: m for m in reply["members"]}


def member(event: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((m for m in event["members"] if m["name"] == name), None)


def say(client: ChatClient, room_id: str, text: str) -> dict[str, Any]:
    return client.request("sendMessage", expect="messageSent", roomId=room_id, text=text)


def is_text(event: dict[str, Any]) -> bool:
    """A ``message`` event that carries a member's text, not a notice of who joined or left."""
    return event["type"] == "message" and event["message"]["kind"] == "text"


def heard(client: ChatClient, where: Callable[[dict[str, Any]], bool] = is_text) -> str:
    """The text of the next member's message the client receives."""
    return str(client.wait_for("message", lambda e: is_text(e) and where(e))["message"]["text"])


def store_for(stack: Harness) -> Store:
    """The chat's own store, on the stack's tables, for checks below the rules."""
    assert stack.target is not None
    assert stack.outputs is not None
    tables = stack.outputs.tables
    settings = config.Settings(
        connections_table=tables[config.CONNECTIONS_TABLE],
        rooms_table=tables[config.ROOMS_TABLE],
        messages_table=tables[config.MESSAGES_TABLE],
        log_level="INFO",
    )
    return Store(settings, client=stack.target.client("dynamodb"))
