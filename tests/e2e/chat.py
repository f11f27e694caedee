"""What users do over the protocol, shared by the end-to-end tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chat import config, rules
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


def settings_for(stack: Harness) -> config.Settings:
    """The chat's settings for the stack's tables."""
    assert stack.outputs is not None
    tables = stack.outputs.tables
    return config.Settings(
        connections_table=tables[config.CONNECTIONS_TABLE],
        rooms_table=tables[config.ROOMS_TABLE],
        messages_table=tables[config.MESSAGES_TABLE],
        log_level="INFO",
    )


def store_for(stack: Harness) -> Store:
    """The chat's own store, on the stack's tables, for checks below the rules."""
    assert stack.target is not None
    return Store(settings_for(stack), client=stack.target.client("dynamodb"))


def newest_members(events: list[dict[str, Any]], room_id: str) -> list[dict[str, Any]] | None:
    """The member list a client keeps from these events, as the reference client does:
    the highest ``version`` whose parts have all arrived (on a tie, the later list)."""
    best: tuple[int, int] | None = None
    lists: dict[int, dict[int, list[dict[str, Any]]]] = {}
    newest: list[dict[str, Any]] | None = None
    for order, event in enumerate(events):
        if event.get("type") != "members" or event.get("roomId") != room_id:
            continue
        version = int(event.get("version", 0))
        parts = lists.setdefault(version, {})
        parts[int(event.get("part", 1))] = event["members"]
        if len(parts) == int(event.get("parts", 1)) and (best is None or (version, order) >= best):
            best = (version, order)
            newest = [m for _, page in sorted(parts.items()) for m in page]
            del lists[version]
    return newest


def stored_members(stack: Harness, room_id: str) -> list[dict[str, Any]]:
    """The room's member list as the table holds it now, as a client would be shown it."""
    _, members = store_for(stack).load_room(room_id)
    return [rules.member_view(m) for m in rules.visible_members(members)]
