"""Who may do what, in which state: the checks every action makes before it writes.

The store writes each change on condition of the state these checks saw, so a race
can't slip past them; when such a condition fails, the action reads again and checks
again.
"""

from __future__ import annotations

from collections.abc import Iterable

from chat.errors import (
    AdminCannotLeave,
    AlreadyMember,
    AlreadyPending,
    InvalidPayload,
    MessageNotFound,
    NoPendingRequest,
    NoSuchMember,
    NotAdmin,
    NotAuthor,
    NotMember,
)
from chat.rules.model import Kind, Member, Message, Role, Room, Status


def find_member(members: Iterable[Member], user_id: str) -> Member | None:
    return next((m for m in members if m.user_id == user_id), None)


def require_approved(members: Iterable[Member], user_id: str) -> Member:
    """The caller's membership, if approved; pending and rejected users are not members."""
    member = find_member(members, user_id)
    if member is None or member.status is not Status.APPROVED:
        raise NotMember("you are not a member of this room")
    return member


def require_admin(room: Room, user_id: str, what: str = "approve or reject requests") -> None:
    if room.admin_id != user_id:
        raise NotAdmin(f"only the room's admin can {what}")


def check_join_request(existing: Member | None) -> None:
    """A user may ask to join unless already a member or already waiting."""
    if existing is None or existing.status is Status.REJECTED:
        return
    if existing.status is Status.APPROVED:
        raise AlreadyMember("you are already a member of this room")
    raise AlreadyPending("your request to join is waiting for the admin")


def check_leave(member: Member | None) -> Member:
    """Members and requesters may leave, and a rejected user may drop the room from
    their list; the admin owns the room and stays until they hand it over."""
    if member is None:
        raise NotMember("you are not in this room")
    if member.role is Role.ADMIN:
        raise AdminCannotLeave("the admin can't leave their own room; hand it over first")
    return member


def check_removal(room: Room, members: Iterable[Member], caller_id: str, user_id: str) -> Member:
    """The admin may remove an approved member other than themselves."""
    require_admin(room, caller_id, "remove members")
    target = _approved_target(members, user_id)
    if target.role is Role.ADMIN:
        raise AdminCannotLeave("the admin can't be removed; hand the room over first")
    return target


def check_transfer(room: Room, members: Iterable[Member], caller_id: str, user_id: str) -> Member:
    """The admin may hand the room to another approved member."""
    require_admin(room, caller_id, "hand the room over")
    target = _approved_target(members, user_id)
    if target.user_id == caller_id:
        raise InvalidPayload("you are already the room's admin", field="userId")
    return target


def _approved_target(members: Iterable[Member], user_id: str) -> Member:
    target = find_member(members, user_id)
    if target is None or target.status is not Status.APPROVED:
        raise NoSuchMember("that user is not a member of this room")
    return target


def check_author(message: Message | None, user_id: str) -> Message:
    """A message its author may still edit or delete."""
    if message is None or message.deleted_at is not None:
        raise MessageNotFound("there is no such message in this room")
    if message.kind is not Kind.TEXT or message.user_id != user_id:
        raise NotAuthor("you can only edit or delete your own messages")
    return message


def check_repeat(original: Message | None, user_id: str) -> Message:
    """A ``sendMessage`` whose id is already stored: a repeat of the caller's own message
    (a retry after a lost reply, a double press), or an id another message holds."""
    if original is None or original.user_id != user_id or original.kind is not Kind.TEXT:
        raise InvalidPayload(
            "messageId is taken by another message; pick a new random id", field="messageId"
        )
    return original


def notice(kind: Kind, member: Member, message_id: str, sent_at: str) -> Message:
    """The conversation's record of a change of membership (joined, left, ...)."""
    return Message(
        room_id=member.room_id,
        message_id=message_id,
        user_id=member.user_id,
        name=member.name,
        text="",
        sent_at=sent_at,
        kind=kind,
    )


def check_decision(target: Member | None) -> Member:
    if target is None or target.status is not Status.PENDING:
        raise NoPendingRequest("that user has no pending request in this room")
    return target


def recipients(members: Iterable[Member], exclude: Iterable[str] = ()) -> list[str]:
    """Connections of the approved members: who receives the room's events."""
    skip = set(exclude)
    return sorted(
        cid
        for m in members
        if m.status is Status.APPROVED
        for cid in m.connections
        if cid not in skip
    )


def is_listed(member: Member) -> bool:
    """Whether the member appears in the room's member list (so their presence matters)."""
    return member.status in (Status.APPROVED, Status.PENDING)


def visible_members(members: Iterable[Member]) -> list[Member]:
    """Approved and pending members, admin first, then approved, then pending, by name."""
    order = {Status.APPROVED: 1, Status.PENDING: 2}
    shown = [m for m in members if is_listed(m)]
    return sorted(
        shown,
        key=lambda m: (0 if m.role is Role.ADMIN else order[m.status], m.name.lower(), m.user_id),
    )
