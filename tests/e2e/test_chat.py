"""The chat end to end: real WebSocket clients against the whole local stack."""

from __future__ import annotations

import json

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from chat import rules
from emulator.harness import Harness
from tests.client import ChatClient
from tests.e2e.chat import MakeClient, create_room, heard, is_text, join, member, members_of, say
from tests.timing import seconds


def test_create_request_approve_chat_and_members(make_client: MakeClient) -> None:
    """The whole happy path with three users: create, request, live notice, approve, chat."""
    alice, bob, carol = make_client("Alice"), make_client("Bob"), make_client("Carol")
    room_id = create_room(alice, "Project X")

    requested = bob.request("joinRoom", expect="joinRequested", roomId=room_id)
    assert requested["room"]["status"] == "pending"
    notice = alice.wait_for("joinRequest", roomId=room_id)
    assert notice["user"] == {"userId": bob.user_id, "name": "Bob"}
    assert notice["roomName"] == "Project X"
    pending_view = alice.wait_for("members", lambda e: member(e, "Bob") is not None)
    assert {m["name"]: m["status"] for m in pending_view["members"]} == {
        "Alice": "approved",
        "Bob": "pending",
    }

    alice.request(
        "joinRoom", expect="joinDecided", roomId=room_id, op="approve", userId=bob.user_id
    )
    decision = bob.wait_for("joinDecision")
    assert decision["status"] == "approved"
    assert decision["roomId"] == room_id
    assert decision["room"]["name"] == "Project X"
    join(alice, carol, room_id)

    sent = say(alice, room_id, "hello from alice")
    assert sent["type"] == "messageSent"
    assert sent["sentAt"].endswith("Z")
    for client in (alice, bob, carol):
        message = client.wait_for("message", is_text)["message"]
        assert (message["name"], message["text"]) == ("Alice", "hello from alice")
        assert message["sentAt"].endswith("Z")
    say(bob, room_id, "hi alice")
    for client in (alice, bob, carol):
        assert heard(client) == "hi alice"

    members = members_of(carol, room_id)
    assert members["Alice"] == {
        "userId": alice.user_id,
        "name": "Alice",
        "role": "admin",
        "status": "approved",
        "online": True,
    }
    assert (members["Bob"]["role"], members["Bob"]["status"]) == ("member", "approved")
    assert (
        next(
            m["name"]
            for m in carol.request("getMembers", expect="members", roomId=room_id)["members"]
        )
        == "Alice"
    )


def test_every_message_arrives_once(make_client: MakeClient) -> None:
    """Each approved member's connection gets each message exactly once."""
    alice, bob = make_client("Alice"), make_client("Bob")
    room_id = create_room(alice)
    join(alice, bob, room_id)
    for i in range(5):
        say(alice, room_id, f"m{i}")
    for client in (alice, bob):
        texts = [e["message"]["text"] for e in client.drain() if is_text(e)]
        assert texts.count("m0") == 1
        assert sorted(texts) == [f"m{i}" for i in range(5)]


def test_rejected_user_is_told_and_cannot_send(make_client: MakeClient) -> None:
    """Reject path: the requester hears the outcome live and stays out."""
    alice, eve = make_client("Alice"), make_client("Eve")
    room_id = create_room(alice)
    eve.request("joinRoom", expect="joinRequested", roomId=room_id)
    alice.wait_for("joinRequest")
    alice.request("joinRoom", expect="joinDecided", roomId=room_id, op="reject", userId=eve.user_id)
    assert eve.wait_for("joinDecision")["status"] == "rejected"

    refused = eve.request("sendMessage", expect="messageSent", roomId=room_id, text="let me in")
    assert refused["code"] == "NOT_MEMBER"
    assert "Eve" not in members_of(alice, room_id)
    again = alice.request(
        "joinRoom", expect="joinDecided", roomId=room_id, op="approve", userId=eve.user_id
    )
    assert again["code"] == "NO_PENDING_REQUEST"


def test_pending_and_outsiders_neither_send_nor_receive(make_client: MakeClient) -> None:
    """Only approved members are in the conversation."""
    alice, bob = make_client("Alice"), make_client("Bob")
    pending, outsider = make_client("Pat"), make_client("Olga")
    room_id = create_room(alice)
    join(alice, bob, room_id)
    pending.request("joinRoom", expect="joinRequested", roomId=room_id)

    say(alice, room_id, "members only")  # acknowledged only after every post is done
    assert heard(bob) == "members only"
    for client in (pending, outsider):
        assert [e for e in client.drain() if e["type"] in ("message", "members")] == []
        for action, payload in (
            ("sendMessage", {"text": "sneaky"}),
            ("getMembers", {}),
        ):
            error = client.request(action, expect="never", roomId=room_id, **payload)
            assert error["code"] == "NOT_MEMBER", error
    texts = [e["message"]["text"] for e in bob.drain() if is_text(e)]
    assert "sneaky" not in texts


def test_display_name_gives_no_admin_rights(make_client: MakeClient) -> None:
    """A second user calling themselves Alice is a different user with no rights."""
    alice, bob = make_client("Alice"), make_client("Bob")
    room_id = create_room(alice)
    impostor = make_client("Alice")
    assert impostor.user_id != alice.user_id
    bob.request("joinRoom", expect="joinRequested", roomId=room_id)
    for op in ("approve", "reject"):
        denied = impostor.request(
            "joinRoom", expect="joinDecided", roomId=room_id, op=op, userId=bob.user_id
        )
        assert denied["code"] == "NOT_ADMIN"
    members = alice.request("getMembers", expect="members", roomId=room_id)["members"]
    assert [(m["userId"], m["status"]) for m in members] == [
        (alice.user_id, "approved"),
        (bob.user_id, "pending"),
    ]
    assert impostor.request("listRooms", expect="rooms")["rooms"] == []


def test_reconnect_with_the_same_key_resumes_the_user(make_client: MakeClient) -> None:
    """Same key, new connection: same user id, same rooms, messages flow again."""
    alice, bob = make_client("Alice"), make_client("Bob")
    room_id = create_room(alice)
    join(alice, bob, room_id)
    bob.close()
    alice.wait_for("members", lambda e: (member(e, "Bob") or {}).get("online") is False)

    bob_again = make_client("Bob", key=bob.key)
    assert bob_again.user_id == bob.user_id
    rooms = bob_again.request("listRooms", expect="rooms")["rooms"]
    assert [(r["roomId"], r["name"], r["role"], r["status"]) for r in rooms] == [
        (room_id, "Lobby", "member", "approved")
    ]
    alice.wait_for("members", lambda e: (member(e, "Bob") or {}).get("online") is True)

    say(alice, room_id, "welcome back")
    assert heard(bob_again) == "welcome back"
    say(bob_again, room_id, "thanks")
    assert heard(alice, lambda e: e["message"]["name"] == "Bob") == "thanks"

    # The admin's rights come back with the key too.
    alice.close()
    alice_again = make_client("Alice (laptop)", key=alice.key)
    carol = make_client("Carol")
    carol.request("joinRoom", expect="joinRequested", roomId=room_id)
    assert alice_again.wait_for("joinRequest")["user"]["name"] == "Carol"
    assert (
        alice_again.request(
            "joinRoom", expect="joinDecided", roomId=room_id, op="approve", userId=carol.user_id
        )["status"]
        == "approved"
    )


def test_vanished_connections_do_not_stop_delivery(stack: Harness, make_client: MakeClient) -> None:
    """Gone connections (no $disconnect seen) get 410, are cleaned up, others still receive."""
    alice, bob, carol = make_client("Alice"), make_client("Bob"), make_client("Carol")
    room_id = create_room(alice)
    join(alice, bob, room_id)
    join(alice, carol, room_id)
    assert stack.target is not None
    assert stack.outputs is not None
    dynamodb = stack.target.client("dynamodb")
    rooms_table = stack.outputs.tables["ROOMS_TABLE"]
    stale = ["gone-connection-1", "gone-connection-2"]
    dynamodb.update_item(
        TableName=rooms_table,
        Key={"roomId": {"S": room_id}, "sk": {"S": f"MEMBER#{bob.user_id}"}},
        UpdateExpression="ADD connections :c",
        ExpressionAttributeValues={":c": {"SS": stale}},
    )
    # And one real client that drops its TCP connection without a close frame.
    carol.drop()

    say(alice, room_id, "still here?")
    assert heard(bob) == "still here?"
    assert heard(alice) == "still here?"
    item = dynamodb.get_item(
        TableName=rooms_table,
        Key={"roomId": {"S": room_id}, "sk": {"S": f"MEMBER#{bob.user_id}"}},
        ConsistentRead=True,
    )["Item"]
    assert not set(stale) & set(item["connections"]["SS"])


@pytest.mark.parametrize(
    ("frame", "code", "field"),
    [
        ("this is not json", "INVALID_JSON", None),
        ("[1, 2, 3]", "INVALID_JSON", None),
        ('{"action": "teleport"}', "UNKNOWN_ACTION", None),
        ('{"text": "no action at all"}', "UNKNOWN_ACTION", None),
        ('{"action": "createRoom"}', "INVALID_PAYLOAD", "name"),
        ('{"action": "createRoom", "name": 42}', "INVALID_PAYLOAD", "name"),
        ('{"action": "createRoom", "name": "   "}', "INVALID_PAYLOAD", "name"),
        ('{"action": "createRoom", "name": "' + "n" * 65 + '"}', "INVALID_PAYLOAD", "name"),
        ('{"action": "sendMessage", "text": "hi"}', "INVALID_PAYLOAD", "roomId"),
        ('{"action": "joinRoom", "roomId": "../../etc"}', "INVALID_PAYLOAD", "roomId"),
        (
            '{"action": "joinRoom", "roomId": "abcdefghjk", "op": "promote"}',
            "INVALID_PAYLOAD",
            "op",
        ),
        (
            '{"action": "joinRoom", "roomId": "abcdefghjk", "op": "approve"}',
            "INVALID_PAYLOAD",
            "userId",
        ),
        ('{"action": "joinRoom", "roomId": "abcdefghjk"}', "ROOM_NOT_FOUND", None),
        (
            '{"action": "sendMessage", "roomId": "abcdefghjk", "text": "hi", "messageId": "X"}',
            "INVALID_PAYLOAD",
            "messageId",
        ),
        ('{"action": "deleteMessage", "roomId": "abcdefghjk"}', "INVALID_PAYLOAD", "messageId"),
        ('{"action": "removeMember", "roomId": "abcdefghjk"}', "INVALID_PAYLOAD", "userId"),
        ('{"action": "getRoom", "roomId": "abcdefghjk"}', "ROOM_NOT_FOUND", None),
        ('{"action": "getMembers", "roomId": "abcdefghjk", "ref": 7}', "INVALID_PAYLOAD", "ref"),
        # Lone surrogates: valid JSON escapes that no UTF-8 reply could carry.
        ('{"action": "createRoom", "name": "a\\ud800"}', "INVALID_PAYLOAD", "name"),
        ('{"action": "listRooms", "ref": "\\udfff"}', "INVALID_PAYLOAD", "ref"),
        (
            '{"action": "sendMessage", "roomId": "abcdefghjk", "text": "hi \\ud83d"}',
            "INVALID_PAYLOAD",
            "text",
        ),
        ('{"action": "getRoom", "roomId": "abcdefghjk", "x": ["\\ud800"]}', "INVALID_PAYLOAD", "x"),
        ('{"action": "createRoom", "name": "\u3164\u3164"}', "INVALID_PAYLOAD", "name"),
    ],
)
def test_bad_requests_get_clear_errors(
    make_client: MakeClient, frame: str, code: str, field: str | None
) -> None:
    """Malformed, incomplete and out-of-limit requests are answered with a code and a reason."""
    client = make_client("Tester")
    client.send_raw(frame)
    error = client.wait_for("error")
    assert error["code"] == code, error
    assert error["message"]
    if field is not None:
        assert error["field"] == field
    if code in ("INVALID_JSON", "UNKNOWN_ACTION"):
        assert error["validActions"] == list(rules.ACTIONS)
        assert {"createRoom", "joinRoom", "sendMessage", "getMembers"} <= set(rules.ACTIONS)
    assert client.request("listRooms", expect="rooms")["rooms"] == []


def test_over_long_message_is_refused_and_not_stored(
    stack: Harness, make_client: MakeClient
) -> None:
    """A message over the limit gets an error; nobody receives it and nothing is written."""
    alice, bob = make_client("Alice"), make_client("Bob")
    room_id = create_room(alice)
    join(alice, bob, room_id)
    error = alice.request("sendMessage", expect="messageSent", roomId=room_id, text="x" * 2001)
    assert (error["code"], error["field"], error["limit"]) == ("INVALID_PAYLOAD", "text", 2000)
    assert [e for e in bob.drain() if is_text(e)] == []
    assert stack.target is not None
    assert stack.outputs is not None
    stored = stack.target.client("dynamodb").query(
        TableName=stack.outputs.tables["MESSAGES_TABLE"],
        KeyConditionExpression="roomId = :r",
        ExpressionAttributeValues={":r": {"S": room_id}},
    )
    assert [item["kind"]["S"] for item in stored["Items"]] == ["joined"]


@pytest.mark.parametrize(
    "query",
    [
        "name=Alice",  # no key
        "name=Alice&key=short",
        "key=" + "a" * 32,  # no name
        "name=" + "n" * 33 + "&key=" + "a" * 32,
        "name=%20%20&key=" + "a" * 32,
        "name=%E3%85%A4%E3%85%A4&key=" + "a" * 32,  # U+3164 HANGUL FILLER, twice
        "name=%E2%A0%80&key=" + "a" * 32,  # U+2800, the blank Braille pattern
    ],
)
def test_connect_without_a_valid_identity_is_refused(stack: Harness, query: str) -> None:
    """$connect answers 400 to a missing or malformed name or key: no connection opens."""
    assert stack.gateway is not None
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{stack.gateway.url}?{query}")
    assert refused.value.response.status_code == 400


def test_members_see_joins_and_departures_live(make_client: MakeClient) -> None:
    """The member list is pushed when someone asks, is approved or goes offline."""
    alice, bob = make_client("Alice"), make_client("Bob")
    room_id = create_room(alice)
    join(alice, bob, room_id)
    alice.wait_for("members", lambda e: (member(e, "Bob") or {}).get("status") == "approved")
    bob.close()
    gone = alice.wait_for("members", lambda e: (member(e, "Bob") or {}).get("online") is False)
    assert member(gone, "Bob") == {
        "userId": bob.user_id,
        "name": "Bob",
        "role": "member",
        "status": "approved",
        "online": False,
    }


def test_history_pages_back_with_a_cursor(make_client: MakeClient) -> None:
    """getHistory returns the newest page oldest-first, then older pages by cursor."""
    alice, bob = make_client("Alice"), make_client("Bob")
    room_id = create_room(alice)
    join(alice, bob, room_id)  # the conversation's first entry: Bob joined
    for i in range(7):
        say(alice, room_id, f"h{i}")
    newest = bob.request("getHistory", expect="history", roomId=room_id, limit=3)
    assert [m["text"] for m in newest["messages"]] == ["h4", "h5", "h6"]
    assert newest["more"] is True
    older = bob.request(
        "getHistory", expect="history", roomId=room_id, limit=3, before=newest["cursor"]
    )
    assert [m["text"] for m in older["messages"]] == ["h1", "h2", "h3"]
    oldest = bob.request(
        "getHistory", expect="history", roomId=room_id, limit=3, before=older["cursor"]
    )
    assert [m["text"] or m["kind"] for m in oldest["messages"]] == ["joined", "h0"]
    assert oldest["more"] is False
    outsider = make_client("Olga")
    assert outsider.request("getHistory", expect="history", roomId=room_id)["code"] == "NOT_MEMBER"
    bad = bob.request("getHistory", expect="history", roomId=room_id, before="yesterday")
    assert (bad["code"], bad["field"]) == ("INVALID_PAYLOAD", "before")


def test_typing_reaches_the_others_only(make_client: MakeClient) -> None:
    """A typing notice goes to the other members, not back to the typist."""
    alice, bob = make_client("Alice"), make_client("Bob")
    room_id = create_room(alice)
    join(alice, bob, room_id)
    bob.send("typing", roomId=room_id)
    notice = alice.wait_for("typing")
    assert (notice["roomId"], notice["userId"], notice["name"]) == (room_id, bob.user_id, "Bob")
    assert [e for e in bob.drain() if e["type"] == "typing"] == []


def test_leaving_a_room(make_client: MakeClient) -> None:
    """A member who leaves stops receiving; the admin can't leave their own room."""
    alice, bob = make_client("Alice"), make_client("Bob")
    room_id = create_room(alice)
    join(alice, bob, room_id)
    assert bob.request("leaveRoom", expect="left", roomId=room_id)["roomId"] == room_id
    alice.wait_for("members", lambda e: member(e, "Bob") is None)
    say(alice, room_id, "after bob left")
    assert [e for e in bob.drain() if is_text(e)] == []
    assert bob.request("listRooms", expect="rooms")["rooms"] == []
    refused = alice.request("leaveRoom", expect="left", roomId=room_id)
    assert refused["code"] == "ADMIN_CANNOT_LEAVE"
    again = bob.request("leaveRoom", expect="left", roomId=room_id)
    assert again["code"] == "NOT_MEMBER"


def test_admin_sees_whether_a_requester_is_online(make_client: MakeClient) -> None:
    """A pending requester's presence is kept current, so the admin knows who is there."""
    alice, pat = make_client("Alice"), make_client("Pat")
    room_id = create_room(alice)
    pat.request("joinRoom", expect="joinRequested", roomId=room_id)
    alice.wait_for("members", lambda e: (member(e, "Pat") or {}).get("online") is True)
    pat.close()
    gone = alice.wait_for("members", lambda e: (member(e, "Pat") or {}).get("online") is False)
    assert member(gone, "Pat")["status"] == "pending"  # type: ignore[index]
    make_client("Pat", key=pat.key)
    alice.wait_for("members", lambda e: (member(e, "Pat") or {}).get("online") is True)


def test_a_binary_frame_closes_the_connection_and_the_member_goes_offline(
    make_client: MakeClient,
) -> None:
    """As on API Gateway, a binary frame closes the socket with 1003 (docs/protocol.md
    §5): even one holding a valid action; the room sees the member go offline."""
    alice, bob = make_client("Alice"), make_client("Bob")
    room_id = create_room(alice)
    join(alice, bob, room_id)
    bob.send_raw(json.dumps({"action": "sendMessage", "roomId": room_id, "text": "hi"}).encode())
    with pytest.raises(ConnectionClosed) as closed:
        read_until_closed(bob)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1003
    alice.wait_for("members", lambda e: (member(e, "Bob") or {}).get("online") is False)
    assert [e for e in alice.drain() if is_text(e)] == [], "nothing was sent"


def read_until_closed(client: ChatClient) -> None:
    """Read (and drop) what arrives until the connection closes."""
    while True:
        client.socket.recv(timeout=seconds(10))
