"""A user in many rooms: what costs a round trip per room (``listRooms``, ``$disconnect``,
``rename``) works on several rooms at once, so it ends within its function's timeout
when each round trip to AWS is slow.

The handlers' own code runs here, on the stack's tables and ``@connections``, through
clients that add ``LATENCY`` to every request (a hook at the AWS boundary, on the real
code path) and record when each request began and ended. A handler that works on one
room after another takes rooms x round trips x ``LATENCY``, over the timeout; one that
works on several rooms at once does not. How long it took depends on the machine's load
as much as on the code, so what is asserted is the shape: the longest chain of requests
each of which waited for the one before is at most ``CHAIN_SHARE`` of all of them (one
room after another makes it nearly all of them).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest
from websockets.sync.client import ClientConnection, connect

from chat.app import Request
from chat.fanout import Fanout
from chat.rules import Member, Role, Status, user_id_for_key
from chat.store import Store
from chat.store.tables import CLIENT_CONFIG
from emulator.harness import Harness
from tests.client import ChatClient
from tests.e2e.chat import MakeClient, say, settings_for, store_for
from tests.timing import seconds

ROOMS = 60
LATENCY = 0.05  # seconds added to each DynamoDB and @connections request
# The most of a handler's requests that may wait one after another. Measured here
# (2026-12-04, load 5) at 8 rooms at once: 0.14-0.17; one room after another
# (PARALLEL_ROOMS = 1): 1.00 for listRooms, 0.76 for rename.
CHAIN_SHARE = 0.4


class RoundTrips:
    """Each request the watched clients made: when it began and ended (monotonic s)."""

    def __init__(self) -> None:
        self.spans: list[tuple[float, float]] = []
        self._lock = threading.Lock()
        self._begun = threading.local()  # a thread's requests run one at a time

    def watch(self, client: Any) -> Any:
        """The client, each of whose requests takes ``LATENCY`` longer and is recorded."""
        events = client.meta.events
        events.register("before-call", self._began)
        events.register("before-send", lambda **_: time.sleep(LATENCY))
        events.register("after-call", self._ended)
        events.register("after-call-error", self._ended)
        return client

    def _began(self, **_: Any) -> None:
        self._begun.at = time.monotonic()

    def _ended(self, **_: Any) -> None:
        with self._lock:
            self.spans.append((self._begun.at, time.monotonic()))

    def clear(self) -> None:
        with self._lock:
            self.spans.clear()

    def longest_chain(self) -> int:
        """The most requests of which each began after the one before it had ended: the
        round trips the work waited for one after another (earliest end first finds it)."""
        chain, free = 0, float("-inf")
        for began, ended in sorted(self.spans, key=lambda span: span[1]):
            if began >= free:
                chain, free = chain + 1, ended
        return chain

    def assert_concurrent(self, what: str, took: float) -> None:
        chain, total = self.longest_chain(), len(self.spans)
        assert total >= ROOMS, f"{what} made only {total} requests"
        assert chain <= CHAIN_SHARE * total, (
            f"{what}: {chain} of its {total} requests waited one after another (took {took:.1f} s)"
        )


class SlowInstance:
    """The chat's functions run here, with every round trip to AWS ``LATENCY`` slower."""

    def __init__(self, harness: Harness) -> None:
        gateway, target = harness.gateway, harness.target
        assert gateway is not None
        assert target is not None
        key_id, secret = target.access_key
        dynamodb = target.session.client(
            "dynamodb", endpoint_url=target.endpoint_url, config=CLIENT_CONFIG
        )
        api = boto3.client(
            "apigatewaymanagementapi",
            endpoint_url=gateway.local_management_endpoint,
            verify=str(gateway.certificates.ca_path),
            region_name=gateway.region,
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
        )
        self.requests = RoundTrips()
        self.store = Store(settings_for(harness), client=self.requests.watch(dynamodb))
        self.fanout = Fanout(gateway.management_endpoint, client=self.requests.watch(api))
        self.context = {"domainName": gateway.domain_name, "stage": gateway.stage}

    def run(self, module: str, connection_id: str, route_key: str, **payload: Any) -> float:
        """Serve one request of the connection with the handler ``module``; its seconds.
        ``requests`` holds the round trips to AWS it made."""
        handler = __import__(module).handler.__wrapped__  # the action inside the route
        event = {
            "requestContext": {
                **self.context,
                "connectionId": connection_id,
                "routeKey": route_key,
                "eventType": "DISCONNECT" if route_key == "$disconnect" else "MESSAGE",
                "requestId": secrets.token_hex(8),
            },
            "body": json.dumps({"action": route_key, **payload}),
        }
        request = Request(event, self.store, self.fanout)
        self.requests.clear()
        started = time.monotonic()
        if route_key == "$disconnect":
            handler(request)
        else:
            handler(request, payload)
        return time.monotonic() - started


@pytest.fixture
def busy_user(stack: Harness, make_client: MakeClient) -> tuple[ChatClient, str, str]:
    """A host in ``ROOMS`` rooms, three with a message, and a user seated in them all,
    connected (``$connect`` only) but not yet online: the host, the user's key, its id."""
    host = make_client("Host")
    room_ids = [
        host.request("createRoom", expect="roomCreated", name=f"Busy {n:02d}")["room"]["roomId"]
        for n in range(ROOMS)
    ]
    key = secrets.token_hex(16)
    user_id = user_id_for_key(key)
    joined = "2026-01-01T00:00:00.000Z"
    store_for(stack).seat(
        Member(r, user_id, "Busy", Role.MEMBER, Status.APPROVED, joined) for r in room_ids
    )
    for room_id in room_ids[:3]:
        say(host, room_id, f"hello in {room_id}")
    host.drain()
    return host, key, user_id


def connected(stack: Harness, key: str, name: str) -> ClientConnection:
    assert stack.gateway is not None
    url = f"{stack.gateway.url}?{urlencode({'name': name, 'key': key})}"
    return connect(url, open_timeout=seconds(30), max_queue=None)


def online_in(host: ChatClient, name: str, online: bool) -> set[str]:
    """The rooms whose member lists, as the host receives them, show ``name`` so."""
    rooms: set[str] = set()
    while len(rooms) < ROOMS:
        event = host.wait_for("members")
        if any(m["name"] == name and m["online"] is online for m in event["members"]):
            rooms.add(event["roomId"])
    return rooms


def test_a_user_in_60_rooms_comes_online_and_goes_on_several_rooms_at_once(
    stack: Harness, busy_user: tuple[ChatClient, str, str]
) -> None:
    """listRooms of a user coming online in 60 rooms, and their $disconnect, each work on
    several rooms at once, and each room hears of it."""
    host, key, user_id = busy_user
    instance = SlowInstance(stack)
    with connected(stack, key, "Busy") as socket:
        (connection,) = instance.store.open_connections(user_id)
        took = instance.run("list_rooms", connection.connection_id, "listRooms")
        reply = json.loads(socket.recv(timeout=seconds(10)))
        assert reply["type"] == "rooms", reply
        assert len(reply["rooms"]) == ROOMS
        assert sum(1 for r in reply["rooms"] if r["lastMessage"]) == 3
        instance.requests.assert_concurrent("listRooms", took)
        assert len(online_in(host, "Busy", online=True)) == ROOMS
        took = instance.run("disconnect", connection.connection_id, "$disconnect")
        instance.requests.assert_concurrent("$disconnect", took)
        assert len(online_in(host, "Busy", online=False)) == ROOMS


def test_another_tab_of_a_user_in_60_rooms_changes_no_room_s_list(
    stack: Harness, busy_user: tuple[ChatClient, str, str]
) -> None:
    """A second tab of a user already online changes no member list: no room's version
    moves and nobody is sent a list, when it comes and when it goes."""
    host, key, user_id = busy_user
    assert stack.gateway is not None
    first = ChatClient(stack.gateway.url, "Busy", key)
    try:
        assert len(online_in(host, "Busy", online=True)) == ROOMS
        host.drain()
        room_ids = [r["roomId"] for r in first.request("listRooms", expect="rooms")["rooms"]]
        versions = {r: members_version(host, r) for r in room_ids[:5]}
        instance = SlowInstance(stack)
        (held,) = instance.store.open_connections(user_id)
        with connected(stack, key, "Busy") as socket:
            (second,) = {c.connection_id for c in instance.store.open_connections(user_id)} - {
                held.connection_id
            }
            took = instance.run("list_rooms", second, "listRooms")
            assert json.loads(socket.recv(timeout=seconds(10)))["type"] == "rooms"
            instance.requests.assert_concurrent("listRooms", took)
            took = instance.run("disconnect", second, "$disconnect")
            instance.requests.assert_concurrent("$disconnect", took)
        assert {r: members_version(host, r) for r in versions} == versions
        assert [e for e in host.drain() if e["type"] == "members"] == []
    finally:
        first.close()


def test_a_user_in_60_rooms_renames_on_several_rooms_at_once(
    stack: Harness, busy_user: tuple[ChatClient, str, str]
) -> None:
    """rename of a user in 60 rooms works on several rooms at once, and every room hears
    the new name."""
    host, key, user_id = busy_user
    assert stack.gateway is not None
    user = ChatClient(stack.gateway.url, "Busy", key)
    try:
        assert len(online_in(host, "Busy", online=True)) == ROOMS
        instance = SlowInstance(stack)
        (connection,) = instance.store.open_connections(user_id)
        took = instance.run("rename", connection.connection_id, "rename", name="Renamed")
        assert user.wait_for("renamed")["name"] == "Renamed"
        instance.requests.assert_concurrent("rename", took)
        assert len(online_in(host, "Renamed", online=True)) == ROOMS
    finally:
        user.close()


def members_version(client: ChatClient, room_id: str) -> int:
    return int(client.request("getMembers", expect="members", roomId=room_id)["version"])
