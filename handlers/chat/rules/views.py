"""What clients see: the views of rooms, members and messages, and the events built
of them (sized to fit API Gateway's 128 KB per message)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from chat.errors import ChatError
from chat.rules.model import Member, Message, Room, Status
from chat.rules.permissions import visible_members


def member_view(member: Member) -> dict[str, Any]:
    return {
        "userId": member.user_id,
        "name": member.name,
        "role": member.role.value,
        "status": member.status.value,
        "online": member.online,
    }


def room_view(room: Room, member: Member | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "roomId": room.room_id,
        "name": room.name,
        "adminId": room.admin_id,
        "createdAt": room.created_at,
    }
    if member is not None:
        view["role"] = member.role.value
        view["status"] = member.status.value
    return view


def message_view(message: Message) -> dict[str, Any]:
    view: dict[str, Any] = {
        "roomId": message.room_id,
        "messageId": message.message_id,
        "userId": message.user_id,
        "name": message.name,
        "text": "" if message.deleted_at is not None else message.text,
        "sentAt": message.sent_at,
        "kind": message.kind.value,
        "version": message.version,
    }
    if message.edited_at is not None:
        view["editedAt"] = message.edited_at
    if message.deleted_at is not None:
        view["deletedAt"] = message.deleted_at
    return view


def room_list(
    memberships: Iterable[Member], last_messages: Mapping[str, Message]
) -> list[dict[str, Any]]:
    """The caller's rooms for ``rooms``, the most recently active first.

    A room's activity is its newest entry, or when it has none (or the caller
    can't read it) the time the caller created or asked to join it.
    """
    entries: list[dict[str, Any]] = []
    for member in memberships:
        last = last_messages.get(member.room_id)
        entries.append(
            {
                "roomId": member.room_id,
                "name": member.room_name,
                "role": member.role.value,
                "status": member.status.value,
                "lastMessage": message_view(last) if last is not None else None,
                "activityAt": max(member.requested_at, last.sent_at if last else ""),
            }
        )
    entries.sort(key=lambda e: e["roomId"])
    entries.sort(key=lambda e: e["activityAt"], reverse=True)
    return entries


def room_info_event(room: Room, members: Iterable[Member]) -> dict[str, Any]:
    """What someone holding a room's id may learn before asking to join."""
    approved = sum(1 for m in members if m.status is Status.APPROVED)
    return {"type": "roomInfo", "roomId": room.room_id, "name": room.name, "memberCount": approved}


POST_BUDGET_BYTES = 120 * 1024  # under API Gateway's 128 KB per message, with room to spare


def members_events(
    room: Room, members: Iterable[Member], budget: int = POST_BUDGET_BYTES
) -> list[dict[str, Any]]:
    """The room's member list as ``members`` events: one, or as many parts as it takes
    for each to fit in one WebSocket message. Every part carries the room's ``version``
    (clients keep the newest list) and ``part``/``parts`` (clients wait for them all)."""
    pages: list[list[dict[str, Any]]] = [[]]
    size = 0
    for view in map(member_view, visible_members(members)):
        entry = len(json.dumps(view, ensure_ascii=False).encode()) + 1
        if pages[-1] and size + entry > budget:
            pages.append([])
            size = 0
        pages[-1].append(view)
        size += entry
    return [
        {
            "type": "members",
            "roomId": room.room_id,
            "version": room.version,
            "part": number,
            "parts": len(pages),
            "members": page,
        }
        for number, page in enumerate(pages, start=1)
    ]


def history_event(
    room_id: str, messages: list[Message], before: str | None, more: bool
) -> dict[str, Any]:
    """A page of history, oldest first; ``cursor`` asks for the page before it.

    A page that would not fit in one WebSocket message drops its oldest messages
    (which the next page then returns) rather than failing to arrive at all.
    """
    messages = list(messages)
    views = [message_view(m) for m in messages]
    size = sum(len(json.dumps(v, ensure_ascii=False).encode()) + 1 for v in views)
    while size > POST_BUDGET_BYTES and len(messages) > 1:
        size -= len(json.dumps(views.pop(0), ensure_ascii=False).encode()) + 1
        messages.pop(0)
        more = True
    return {
        "type": "history",
        "roomId": room_id,
        "messages": [message_view(m) for m in messages],
        "before": before,
        "cursor": messages[0].sort_key if messages else None,
        "more": more,
    }


def error_event(error: ChatError, ref: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = dict(error.details)
    event.update(type="error", code=error.code, message=error.message)
    if ref is not None:
        event["ref"] = ref
    return event
