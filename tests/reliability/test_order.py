"""One sender's order under concurrent invocation (docs/protocol.md §6).

Several members send at once, each as the reference client does (its next message only
after the previous one's ``messageSent``), one of them from two tabs in turn, while the
send function's workers are frozen at random moments and one function instance's clock
runs behind the others' (the send handler run in this process with a slow clock, as an
instance on another host would be). The invariant: every member receives each sender's
messages in the order they were sent, each once, and history holds them in that order.
"""

from __future__ import annotations

import json
import secrets
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from chat.app import Request
from chat.fanout import Fanout
from chat.rules import Message
from emulator.harness import Harness
from tests.client import ChatClient
from tests.e2e.chat import create_room, join, store_for
from tests.reliability.conftest import RELIABLE, record, signal_workers
from tests.reliability.freeze import every

pytestmark = [RELIABLE, pytest.mark.timeout(900)]

SENDERS = 4
MESSAGES = 15  # per sender
BEHIND = timedelta(seconds=3)  # how slow the slow instance's clock is


class SlowInstance:
    """The send function as an instance whose clock is ``behind`` the others': the real
    handler's code, run here on the stack's own tables and ``@connections``."""

    def __init__(self, harness: Harness, client: ChatClient, behind: timedelta) -> None:
        import send_message  # the handler's module (handlers/ is on the path)

        gateway = harness.gateway
        assert gateway is not None
        assert harness.target is not None
        key_id, secret = harness.target.access_key
        api = boto3.client(
            "apigatewaymanagementapi",
            endpoint_url=gateway.local_management_endpoint,
            verify=str(gateway.certificates.ca_path),
            region_name=gateway.region,
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
        )
        self.action = send_message.handler.__wrapped__  # the action inside the route
        self.store = store_for(harness)
        self.fanout = Fanout(gateway.management_endpoint, client=api)
        (connection,) = self.store.open_connections(client.user_id)
        self.context = {
            "connectionId": connection.connection_id,
            "domainName": gateway.domain_name,
            "stage": gateway.stage,
            "routeKey": "sendMessage",
            "eventType": "MESSAGE",
        }
        self.behind = behind

    def now(self) -> str:
        slow = datetime.now(UTC) - self.behind
        return slow.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def send(self, room_id: str, message_id: str, text: str) -> None:
        """Serve one sendMessage of the client's, as its function would: the message is
        stored and delivered, and ``messageSent`` posted, when this returns."""
        payload = {"action": "sendMessage", "roomId": room_id, "messageId": message_id}
        payload["text"] = text
        event = {
            "requestContext": {**self.context, "requestId": secrets.token_hex(8)},
            "body": json.dumps(payload),
        }
        request = Request(event, self.store, self.fanout, clock=self.now)
        request.ref = message_id
        self.action(request, payload)


def full_history(harness: Harness, room_id: str) -> list[Message]:
    """Every entry of the room, oldest first, page by page."""
    store = store_for(harness)
    entries: list[Message] = []
    before = None
    while True:
        page, more = store.messages(room_id, before, 50)
        entries = page + entries
        if not more or not page:
            return entries
        before = page[0].sort_key


def in_order(seen: list[str], sent: list[str]) -> bool:
    return [m for m in seen if m in set(sent)] == sent


def test_each_senders_messages_keep_their_order_live_and_in_history(
    harness: Harness, connect: Callable[..., ChatClient]
) -> None:
    """Four members send 15 messages each at once, one in two tabs, one partly through an
    instance whose clock is 3 s slow, with the send function's workers frozen at random
    moments: each sender's messages reach every member, and stand in history, in the
    order sent, each once."""
    admin = connect("Admin")
    senders = [connect(f"Sender {i}") for i in range(SENDERS)]
    room_id = create_room(admin, "Order")
    for sender in senders:
        join(admin, sender, room_id)
    second_tab = connect("Sender 0", key=senders[0].key)  # attached by its listRooms
    slow = SlowInstance(harness, senders[1], BEHIND)
    sent: dict[str, list[str]] = {s.user_id: [] for s in senders}
    failures: list[BaseException] = []

    def send_all(number: int) -> None:
        sender = senders[number]
        tabs = [sender, second_tab] if number == 0 else [sender]
        try:
            for n in range(MESSAGES):
                message_id = secrets.token_hex(8)
                text = f"sender {number}, line {n}"
                if number == 1 and n % 3 == 2:
                    slow.send(room_id, message_id, text)
                else:
                    reply = tabs[n % len(tabs)].request(
                        "sendMessage",
                        expect="messageSent",
                        roomId=room_id,
                        messageId=message_id,
                        text=text,
                    )
                    assert reply["type"] == "messageSent", reply
                sent[sender.user_id].append(message_id)
        except BaseException as exc:  # reported by the test's thread below
            failures.append(exc)

    def freeze() -> int:
        frozen = signal_workers(harness, "send-message", signal.SIGSTOP)
        time.sleep(0.2)  # the fault itself
        signal_workers(harness, "send-message", signal.SIGCONT)
        return frozen

    threads = [threading.Thread(target=send_all, args=(i,)) for i in range(SENDERS)]
    try:
        with every((0.2, 0.6), freeze) as frozen:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    finally:
        signal_workers(harness, "send-message", signal.SIGCONT)
    if failures:
        raise failures[0]

    checked = 0
    for client in [admin, *senders, second_tab]:
        live = [
            e["message"]["messageId"]
            for e in client.drain()
            if e.get("type") == "message" and e["message"]["kind"] == "text"
        ]
        for user_id, ids in sent.items():
            assert sorted(m for m in live if m in set(ids)) == sorted(ids), "lost or repeated"
            assert in_order(live, ids), f"{client.name} saw {user_id}'s messages out of order"
            checked += len(ids)
    stored = [m.message_id for m in full_history(harness, room_id) if m.kind == "text"]
    for user_id, ids in sent.items():
        assert sorted(m for m in stored if m in set(ids)) == sorted(ids), "lost or stored twice"
        assert in_order(stored, ids), f"history has {user_id}'s messages out of order"
    record("order: senders, messages each", f"{SENDERS}, {MESSAGES}")
    record("order: deliveries checked in order", checked)
    record("order: messages checked in history", sum(len(ids) for ids in sent.values()))
    record("order: send workers frozen (0.2 s)", sum(frozen))
    record("order: messages from an instance 3 s slow", MESSAGES // 3)
