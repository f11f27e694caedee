"""The adapter between Lambda and the rules: one ``Request`` per invocation.

``route`` wraps a message route: it parses the body, runs the action, and turns a
:class:`~chat.errors.ChatError` into an ``error`` event for the caller. Anything
else is logged with the request id and the caller only hears ``INTERNAL_ERROR``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from functools import cache, wraps
from typing import Any

from chat import config, rules
from chat.errors import ChatError, InternalError, NotConnected
from chat.events import WebSocketEvent
from chat.fanout import Fanout
from chat.rules import Member, Message, Room
from chat.store import Connection, Store

log = logging.getLogger("chat")

LambdaHandler = Callable[[Mapping[str, Any], Any], dict[str, Any]]
OK = {"statusCode": 200}


@cache
def settings() -> config.Settings:
    loaded = config.load()
    logging.getLogger().setLevel(loaded.log_level)
    for noisy in ("botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return loaded


@cache
def store() -> Store:
    """The container's one store (and DynamoDB client), made on first use."""
    return Store(settings())


def now() -> str:
    """UTC time in ISO 8601 with milliseconds: sortable as text."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def epoch_seconds() -> int:
    return int(time.time())


class Request:
    """One invocation: the event, the caller, and the ways to answer."""

    def __init__(self, event: Mapping[str, Any]) -> None:
        self.event = WebSocketEvent(event)
        self.store = store()
        self.fanout = Fanout(self.event.management_endpoint)
        self.ref: str | None = None
        self._caller: Connection | None = None

    @property
    def connection_id(self) -> str:
        return self.event.connection_id

    def caller(self) -> Connection:
        """Who sent this, from the connection registered at ``$connect``."""
        if self._caller is None:
            self._caller = self.store.get_connection(self.connection_id)
            if self._caller is None:
                raise NotConnected("this connection is not registered; reconnect")
        return self._caller

    def as_member(self, room_id: str) -> tuple[Room, list[Member], Member]:
        """The room, its memberships and the caller's, if the caller is approved in it."""
        caller = self.caller()
        room, members = self.store.load_room(room_id)
        return room, members, rules.require_approved(members, caller.user_id)

    def own_message(self, room_id: str, message_id: str) -> tuple[Room, list[Member], Message]:
        """The room, its memberships and one of the caller's own messages, if the caller
        is an approved member and wrote it."""
        room, members, me = self.as_member(room_id)
        message = rules.check_author(self.store.message(room_id, message_id), me.user_id)
        return room, members, message

    def admin_target(
        self, payload: Mapping[str, Any], check: Callable[[Room, list[Member], str, str], Member]
    ) -> tuple[Room, list[Member], Member]:
        """For an admin's action on a member (``userId``): the room, its memberships and
        that member, once ``check`` (``rules.check_removal``, ``check_transfer``) allows it."""
        command = rules.parse_member_ref(payload)
        caller = self.caller()
        room, members = self.store.load_room(command.room_id)
        return room, members, check(room, members, caller.user_id, command.user_id)

    def post_entry(
        self, room: Room, members: Iterable[Member], entry: Message, kind: str = "message"
    ) -> None:
        """Deliver a new (``message``) or changed (``messageUpdated``) entry of the
        conversation to the room's approved members."""
        self.broadcast(room, members, {"type": kind, "message": rules.message_view(entry)})

    def reply(self, payload: Mapping[str, Any]) -> None:
        """Send to the caller's connection, tagged with the request's ``ref``."""
        message = dict(payload)
        if self.ref is not None:
            message["ref"] = self.ref
        self.fanout.send([self.connection_id], message)

    def send(
        self, room: Room, members: Iterable[Member], payload: Mapping[str, Any], to: Iterable[str]
    ) -> None:
        """Post to the given connections of a room's members, then forget the gone ones."""
        gone = self.fanout.send(to, payload)
        if gone:
            self.forget(room, members, gone)

    def broadcast(
        self,
        room: Room,
        members: Iterable[Member],
        payload: Mapping[str, Any],
        exclude: Iterable[str] = (),
    ) -> None:
        """Post to every approved member's open connections."""
        members = list(members)
        self.send(room, members, payload, rules.recipients(members, exclude))

    def forget(self, room: Room, members: Iterable[Member], gone: set[str]) -> None:
        """Clean up connections that API Gateway says are gone.

        ``$disconnect`` is best effort, so this is also where a member who vanished
        is shown offline: if cleaning up leaves an approved member with no connection,
        the room hears about it.
        """
        went_offline = False
        for member in members:
            for connection_id in member.connections & gone:
                log.info("connection %s is gone; removing it", connection_id)
                after = self.store.detach(room.room_id, member.user_id, connection_id)
                if after is not None and rules.is_listed(after) and not after.online:
                    went_offline = True
        for connection_id in gone:
            self.store.delete_connection(connection_id)
        if went_offline:
            self.announce_members(room.room_id)

    def announce_members(self, room_id: str, exclude: Iterable[str] = ()) -> None:
        """Push the current member list to the room (presence, joins, decisions)."""
        room, members = self.store.load_room(room_id)
        self.broadcast(room, members, rules.members_event(room, members), exclude)


def route(action: Callable[[Request, dict[str, Any]], None]) -> LambdaHandler:
    """Make a Lambda handler of a message route's action."""

    @wraps(action)
    def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        request = Request(event)
        try:
            payload = rules.parse_body(request.event.body)
            request.ref = rules.parse_ref(payload)
            action(request, payload)
        except ChatError as error:
            request.reply(rules.error_event(error))
        except Exception:
            log.exception(
                "%s failed (request %s)", request.event.route_key, request.event.request_id
            )
            request.reply(rules.error_event(InternalError("something went wrong; try again")))
        return OK

    return handler


def lifecycle(step: Callable[[Request], dict[str, Any]]) -> LambdaHandler:
    """Make a Lambda handler of ``$connect`` or ``$disconnect``: no replies possible."""

    @wraps(step)
    def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        request = Request(event)
        try:
            return step(request)
        except Exception:
            log.exception(
                "%s failed (request %s)", request.event.route_key, request.event.request_id
            )
            return {"statusCode": 500, "body": "Internal server error"}

    return handler
