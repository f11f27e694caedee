"""Every error a client can be told about.

Each class carries the ``code`` the client sees in an ``error`` event; the handlers
dispatch on the class, never on the message text. Rules and the store raise these;
``app`` turns them into ``{"type": "error", "code": ..., "message": ...}``.

    ChatError
    ├── InvalidJson          the frame is not a JSON object
    ├── UnknownAction        no route for the action (reaches ``$default``)
    ├── InvalidPayload       a field is missing, of the wrong type or out of limits
    ├── NotConnected         the connection is not registered (no ``$connect`` seen)
    ├── RoomNotFound         no room with that id
    ├── NotMember            the caller is not an approved member of the room
    ├── NotAdmin             only the room's admin may do this
    ├── AlreadyMember        a join request from an approved member
    ├── AlreadyPending       a second join request while one is pending
    ├── NoPendingRequest     approve/reject of a user who has no pending request
    ├── NoSuchMember         the admin named a user who is not an approved member
    ├── AdminCannotLeave     the admin tried to leave (or remove themselves from) the room
    ├── MessageNotFound      no message with that id in the room (or it was deleted)
    ├── NotAuthor            only a message's author may edit or delete it
    └── InternalError        anything unexpected; details are only in the logs
"""

from __future__ import annotations

from typing import Any


class ChatError(Exception):
    """A failure the client is told about, with a stable ``code``."""

    code = "ERROR"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidJson(ChatError):
    code = "INVALID_JSON"


class UnknownAction(ChatError):
    code = "UNKNOWN_ACTION"


class InvalidPayload(ChatError):
    code = "INVALID_PAYLOAD"


class NotConnected(ChatError):
    code = "NOT_CONNECTED"


class RoomNotFound(ChatError):
    code = "ROOM_NOT_FOUND"


class NotMember(ChatError):
    code = "NOT_MEMBER"


class NotAdmin(ChatError):
    code = "NOT_ADMIN"


class AlreadyMember(ChatError):
    code = "ALREADY_MEMBER"


class AlreadyPending(ChatError):
    code = "ALREADY_PENDING"


class NoPendingRequest(ChatError):
    code = "NO_PENDING_REQUEST"


class NoSuchMember(ChatError):
    code = "NO_SUCH_MEMBER"


class AdminCannotLeave(ChatError):
    code = "ADMIN_CANNOT_LEAVE"


class MessageNotFound(ChatError):
    code = "MESSAGE_NOT_FOUND"


class NotAuthor(ChatError):
    code = "NOT_AUTHOR"


class InternalError(ChatError):
    code = "INTERNAL_ERROR"
