"""``joinRoom``: a user asks to join (``op: request``); the admin approves or rejects.

A decision is written on condition that the request is still pending and the caller
still the room's admin: an admin who handed the room over meanwhile decides nothing.

A room holds at most ``max_pending_per_room`` requests waiting, and a user at most
``max_pending_per_user`` across rooms: counters written with the request itself.
"""

from __future__ import annotations

from typing import Any

from chat import app, rules
from chat.app import Request
from chat.rules import JoinRoom, Kind, Member, Role, Room, Status


@app.route
def handler(request: Request, payload: dict[str, Any]) -> None:
    command = rules.parse_join_room(payload)
    caller = request.caller()
    room, members = request.store.load_room(command.room_id)
    if command.op == "request":
        _request(request, room, members, caller.user_id, caller.name)
    else:
        _decide(request, room, members, caller.user_id, command)


def _request(request: Request, room: Room, members: list[Member], user_id: str, name: str) -> None:
    rules.check_join_request(rules.find_member(members, user_id))
    member = Member(
        room_id=room.room_id,
        user_id=user_id,
        name=name,
        role=Role.MEMBER,
        status=Status.PENDING,
        requested_at=request.now(),
        room_name=room.name,
        connections=request.store.user_connections(user_id) | request.own_connection(),
    )
    request.store.request_join(member)
    requested = {"type": "joinRequested", "room": rules.room_view(room, member)}
    request.reply(requested)
    request.send([member], requested, to=member.connections - {request.connection_id})
    admin = rules.find_member(members, room.admin_id)
    if admin is not None:
        notice = {
            "type": "joinRequest",
            "roomId": room.room_id,
            "roomName": room.name,
            "user": {"userId": user_id, "name": name},
            "requestedAt": member.requested_at,
        }
        request.send(members, notice, to=admin.connections)
    request.announce_members(room.room_id)


def _decide(
    request: Request, room: Room, members: list[Member], caller_id: str, command: JoinRoom
) -> None:
    assert command.user_id is not None  # parse_join_room guarantees it for decisions
    rules.require_admin(room, caller_id)
    target = rules.check_decision(rules.find_member(members, command.user_id))
    status = Status.APPROVED if command.op == "approve" else Status.REJECTED
    notice = None
    if status is Status.APPROVED:  # the conversation records who joined
        notice = rules.notice(Kind.JOINED, target, rules.new_message_id(), request.now())
    decided = request.store.decide(room.room_id, command.user_id, status, caller_id, notice)
    request.reply(
        {"type": "joinDecided", "roomId": room.room_id, "userId": decided.user_id, "status": status}
    )
    request.send(
        [decided],
        {
            "type": "joinDecision",
            "roomId": room.room_id,
            "status": status,
            "room": rules.room_view(room, decided),
        },
        to=decided.connections,
    )
    request.announce_members(room.room_id, notice=notice)
