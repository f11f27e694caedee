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
from typing import Any, TypeVar

from chat import config, rules
from chat.errors import ChatError, InternalError, NotConnected, NotMember, ReplyTooLarge
from chat.events import WebSocketEvent
from chat.fanout import TOO_LARGE, Fanout
from chat.rules import Member, Message, Room, Status
from chat.store import Conflict, Connection, Store

log = logging.getLogger("chat")

LambdaHandler = Callable[[Mapping[str, Any], Any], dict[str, Any]]
OK = {"statusCode": 200}
# How long a closed connection's record stays, for requests still in flight: longer than
# API Gateway's 29 s integration timeout, so that every request it accepted is served.
CLOSED_RECORD_SECONDS = 10 * 60
# How often a check-then-write step reads and checks again when its write finds the state
# changed since the read (each time, a concurrent write to the same items won).
WRITE_ATTEMPTS = 16
T = TypeVar("T")


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


def until_written(step: Callable[[], T], attempts: int = WRITE_ATTEMPTS) -> T:
    """Run a step that reads, checks and writes on condition of what it read, until the
    write holds: a :class:`~chat.store.Conflict` means the state changed in between, so
    the step reads and checks again (and may now refuse). The last conflict propagates."""
    for _ in range(attempts - 1):
        try:
            return step()
        except Conflict:
            log.info("the state changed between a check and its write; checking again")
    return step()


class Request:
    """One invocation: the event, the caller, and the ways to answer."""

    def __init__(
        self,
        event: Mapping[str, Any],
        store_: Store | None = None,
        fanout: Fanout | None = None,
        clock: Callable[[], str] = now,
    ) -> None:
        self.event = WebSocketEvent(event)
        self.store = store_ or store()
        self.fanout = fanout or Fanout(self.event.management_endpoint)
        self.now = clock  # this instance's time (instances' clocks disagree a little)
        self.ref: str | None = None
        self._caller: Connection | None = None

    @property
    def connection_id(self) -> str:
        return self.event.connection_id

    @property
    def limits(self) -> config.Limits:
        return settings().limits

    def caller(self) -> Connection:
        """Who sent this, from the connection registered at ``$connect``. A connection
        that has closed since still counts: the gateway accepted the request."""
        if self._caller is None:
            self._caller = self.store.get_connection(self.connection_id)
            if self._caller is None:
                raise NotConnected("this connection is not registered; reconnect")
        return self._caller

    def own_connection(self) -> frozenset[str]:
        """The caller's connection, to attach to a membership, unless it has closed."""
        return frozenset() if self.caller().closed else frozenset({self.connection_id})

    def count(self) -> None:
        """Count this request against the connection's and the user's rates (and learn
        who the caller is on the way)."""
        counted = self.store.count_request(self.connection_id, epoch_seconds())
        if counted is not None:
            self._caller = counted
        # else: not registered; answered NOT_CONNECTED later, in the order of checks

    def as_member(self, room_id: str) -> tuple[Room, list[Member], Member]:
        """The room, its memberships and the caller's, if the caller is approved in it."""
        caller = self.caller()
        room, members = self.store.load_room(room_id)
        return room, members, rules.require_approved(members, caller.user_id)

    def membership(self, room_id: str) -> Member:
        """The caller's membership of a room, if approved: one GetItem (and one more,
        of the room, only to tell ROOM_NOT_FOUND from NOT_MEMBER)."""
        member = self.store.member(room_id, self.caller().user_id)
        if member is None or member.status is not Status.APPROVED:
            self.store.room(room_id)  # ROOM_NOT_FOUND if there is none
            raise NotMember("you are not a member of this room")
        return member

    def own_message(self, room_id: str, message_id: str) -> Message:
        """One of the caller's own messages, if the caller is an approved member and
        wrote it."""
        me = self.membership(room_id)
        return rules.check_author(self.store.message(room_id, message_id), me.user_id)

    def admin_target(
        self, payload: Mapping[str, Any], check: Callable[[Room, list[Member], str, str], Member]
    ) -> tuple[Room, Member]:
        """For an admin's action on a member (``userId``): the room and that member, once
        ``check`` (``rules.check_removal``, ``check_transfer``) allows it."""
        command = rules.parse_member_ref(payload)
        caller = self.caller()
        room, members = self.store.load_room(command.room_id)
        return room, check(room, members, caller.user_id, command.user_id)

    def post_entry(self, members: Iterable[Member], entry: Message, kind: str = "message") -> None:
        """Post a new (``message``) or changed (``messageUpdated``) entry of the
        conversation to the room's approved members, as read after the entry's write."""
        self.broadcast(members, {"type": kind, "message": rules.message_view(entry)})

    def deliver(self, entry: Message, kind: str = "message") -> None:
        """Deliver an entry just written to the room's approved members, read now: after
        the write, so that a member removed before it committed never receives it."""
        _, members = self.store.load_room(entry.room_id)
        self.post_entry(members, entry, kind)

    def reply(self, payload: Mapping[str, Any]) -> None:
        """Send to the caller's connection, tagged with the request's ``ref``.

        A reply API Gateway refuses (over 128 KB, or throttled past the retries) is
        replaced by an ``error`` event saying so: a reply never fails silently.
        """
        message = dict(payload)
        if self.ref is not None:
            message["ref"] = self.ref
        failure = self.fanout.send([self.connection_id], message).failed.get(self.connection_id)
        if failure is None:
            return
        log.error("reply %s to %s failed: %s", payload.get("type"), self.connection_id, failure)
        error: ChatError = InternalError("the reply could not be delivered; try again")
        if failure == TOO_LARGE:
            error = ReplyTooLarge("the reply was too large to send")
        fallback = self.fanout.send([self.connection_id], rules.error_event(error, self.ref))
        if fallback.failed:
            log.error("the error reply to %s failed too", self.connection_id)

    def send(
        self, members: Iterable[Member], payload: Mapping[str, Any], to: Iterable[str]
    ) -> None:
        """Post to the given connections of a room's members, then forget the gone ones."""
        gone = self.fanout.send(to, payload).gone
        members = list(members)
        for connection_id in sorted(gone):
            log.info("connection %s is gone (410); detaching it", connection_id)
            self.disconnected(connection_id, members)

    def broadcast(
        self, members: Iterable[Member], payload: Mapping[str, Any], exclude: Iterable[str] = ()
    ) -> None:
        """Post to every approved member's open connections."""
        members = list(members)
        self.send(members, payload, rules.recipients(members, exclude))

    def disconnected(
        self, connection_id: str, seen_in: Iterable[Member] = (), quiet: str | None = None
    ) -> None:
        """A connection has closed (``$disconnect``, a 410 from a post, or a probe): mark
        its record closed and detach it from its memberships, those of its user and
        any of ``seen_in`` that hold it (a connection may have no record any more).

        ``$disconnect`` is best effort, so this is also where a member who vanished
        is shown offline: every room where a listed member is left with no connection
        hears about it (except ``quiet``, a room whose caller announces it anyway).
        """
        candidates = list(seen_in)
        connection = self.store.get_connection(connection_id)
        if connection is not None:
            self.store.retire_connection(
                connection_id, self.now(), epoch_seconds() + CLOSED_RECORD_SECONDS
            )
            candidates += self.store.memberships(connection.user_id)
        # Each membership once, though both sources may list it.
        holding = dict.fromkeys(
            (m.room_id, m.user_id) for m in candidates if connection_id in m.connections
        )
        for room_id, user_id in holding:
            after = self.store.detach(room_id, user_id, connection_id)
            if (
                after is not None
                and rules.is_listed(after)
                and not after.online
                and room_id != quiet
            ):
                self.announce_members(room_id)

    def probe_pending(self, room: Room, members: Iterable[Member]) -> bool:
        """Ask API Gateway whether the connections of the room's pending members are
        still open, at most once per ``presence_probe_seconds``; True if any was gone.

        Broadcasts find approved members' closed connections (a post gets 410), but
        pending members receive no broadcasts: without this, one whose ``$disconnect``
        was lost would be shown online for good.
        """
        waiting = {c for m in members if m.status is Status.PENDING for c in m.connections}
        if not waiting or not self.store.claim_probe(room.room_id, epoch_seconds()):
            return False
        gone = self.fanout.gone(waiting)
        for connection_id in sorted(gone):
            log.info("connection %s is gone (probe); detaching it", connection_id)
            self.disconnected(connection_id, members, quiet=room.room_id)
        return bool(gone)

    def current_members(self, room: Room, members: list[Member]) -> tuple[Room, list[Member]]:
        """The room's memberships as just read, or read again if checking the pending
        members' presence detached any of their connections."""
        if self.probe_pending(room, members):
            return self.store.load_room(room.room_id)
        return room, members

    def announce_members(
        self, room_id: str, exclude: Iterable[str] = (), notice: Message | None = None
    ) -> None:
        """Push the member list to the room, read after the change that calls for it,
        and before it the conversation's ``notice`` of that change, if any.

        Each list carries the room's version; whatever ran concurrently, the highest
        version a client receives is the list as stored once things settle.
        """
        room, members = self.current_members(*self.store.load_room(room_id))
        if notice is not None:
            self.post_entry(members, notice)
        for event in rules.members_events(room, members):
            self.broadcast(members, event, exclude)


def route(action: Callable[[Request, dict[str, Any]], None]) -> LambdaHandler:
    """Make a Lambda handler of a message route's action."""

    @wraps(action)
    def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        request = Request(event)
        try:
            try:
                payload = rules.parse_body(request.event.body)
                request.ref = rules.parse_ref(payload)
            finally:  # every frame counts, even one that isn't JSON
                request.count()
            rules.check_encodable(payload)
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
