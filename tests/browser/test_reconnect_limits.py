"""The client against issue 17: a reconnect that asks for what it needs within the rates
(60 rooms; 3 tabs of 35 rooms), the highest version of each message kept, a removed
member's room not brought back by a late event, and look-alike names told apart."""

from __future__ import annotations

import json
import secrets
from typing import Any

from playwright.sync_api import BrowserContext, Page, expect

from chat.rules import Member, Role, Status, user_id_for_key
from emulator.harness import Harness
from tests.browser.pages import (
    DESKTOP,
    SCREENS,
    TIMEOUT_MS,
    MakeClient,
    Network,
    OpenPage,
    hosted_room,
    member_page,
    networked_member,
    open_rooms,
    room_entry,
)
from tests.e2e.chat import say, store_for


def seated_user(stack: Harness, make_client: MakeClient, rooms: int) -> tuple[str, list[str]]:
    """A user (their key) seated as a member in ``rooms`` rooms, three of them with a message."""
    host = make_client("Host")
    key = secrets.token_hex(16)
    room_ids = []
    for n in range(rooms):
        created = host.request("createRoom", expect="roomCreated", name=f"Room {n:02d}")
        room_ids.append(created["room"]["roomId"])
    user_id = user_id_for_key(key)
    joined = "2026-01-01T00:00:00.000Z"
    store = store_for(stack)
    store.seat(Member(r, user_id, "Many", Role.MEMBER, Status.APPROVED, joined) for r in room_ids)
    for room_id in room_ids[:3]:
        say(host, room_id, f"hello in {room_id}")
    return key, room_ids


def signed_in_tab(context: BrowserContext, url: str) -> tuple[Page, Network]:
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    network = Network(page)
    page.goto(url)
    return page, network


def caught_up(network: Network, room_ids: list[str]) -> None:
    """Every room's history and members reached the page, and nothing was refused."""

    def answered(kind: str) -> set[str]:
        return {json.loads(t)["roomId"] for t in network.passed if f'"type":"{kind}"' in t}

    deadline_ms = 60_000
    waited = 0
    while not (set(room_ids) <= answered("history") and set(room_ids) <= answered("members")):
        assert waited < deadline_ms, (
            f"{len(answered('history'))} histories and {len(answered('members'))} member lists "
            f"of {len(room_ids)} rooms"
        )
        network.page.wait_for_timeout(250)
        waited += 250
    refused = [t for t in network.passed if '"RATE_LIMITED"' in t]
    assert refused == [], f"{len(refused)} requests refused for the rate: {refused[:2]}"


def test_reconnect_with_60_rooms_stays_within_the_rates(
    stack: Harness, browser: Any, make_client: MakeClient
) -> None:
    """A user in 60 rooms loads the page: every room's history and members arrive, and
    the server refuses none of the requests for its rate."""
    key, room_ids = seated_user(stack, make_client, 60)
    context = browser.new_context(**DESKTOP)
    context.add_init_script(
        f"localStorage.setItem('chat.key', '{key}'); localStorage.setItem('chat.name', 'Many');"
    )
    assert stack.website is not None
    page, network = signed_in_tab(context, stack.website.url)
    expect(page.locator("#connection")).to_have_text("Online", timeout=20_000)
    caught_up(network, room_ids)
    open_rooms(page)
    expect(page.locator("#room-list .room-item")).to_have_count(60)
    context.close()


def test_reconnect_of_3_tabs_with_35_rooms_stays_within_the_user_s_rate(
    stack: Harness, browser: Any, make_client: MakeClient
) -> None:
    """Three tabs of one user in 35 rooms load at once: each catches up on every room, and
    the server refuses nothing for the user's rate (shared by the tabs)."""
    key, room_ids = seated_user(stack, make_client, 35)
    context = browser.new_context(**DESKTOP)
    context.add_init_script(
        f"localStorage.setItem('chat.key', '{key}'); localStorage.setItem('chat.name', 'Many');"
    )
    assert stack.website is not None
    tabs = [signed_in_tab(context, stack.website.url) for _ in range(3)]
    for tab in tabs:
        expect(tab[0].locator("#connection")).to_have_text("Online", timeout=20_000)
    for tab in tabs:
        caught_up(tab[1], room_ids)
    context.close()


@SCREENS
def test_a_late_edit_doesn_t_bring_back_a_deleted_message(
    open_page: OpenPage, make_client: MakeClient, screen: dict[str, Any]
) -> None:
    """Of two updates of one message the higher version stays, whatever their order."""
    admin, room_id = hosted_room(make_client, "Author", "Races")
    page, network = networked_member(open_page, admin, room_id, "Reader", screen)
    sent = say(admin, room_id, "original")
    expect(page.locator("#messages")).to_contain_text("original")
    base = {
        "roomId": room_id,
        "messageId": sent["messageId"],
        "userId": admin.user_id,
        "name": "Author",
        "sentAt": sent["sentAt"],
        "kind": "text",
    }
    deleted = {**base, "text": "", "deletedAt": "2099-01-01T00:00:02.000Z", "version": 3}
    edited = {**base, "text": "resurrected", "editedAt": "2099-01-01T00:00:01.000Z", "version": 2}
    network.inject({"type": "messageUpdated", "message": deleted})
    network.inject({"type": "messageUpdated", "message": edited})
    bubble = page.locator("#messages .message", has_text="deleted").locator(".bubble")
    expect(bubble).to_have_text("This message was deleted.")
    expect(page.locator("#messages")).not_to_contain_text("resurrected")


def test_a_removed_member_s_room_stays_gone_after_a_late_message(
    open_page: OpenPage, make_client: MakeClient
) -> None:
    """A room event that arrives after `removed` doesn't put the room back in the list."""
    admin, room_id = hosted_room(make_client, "Strict", "Closed door")
    page, network = networked_member(open_page, admin, room_id, "Gone", DESKTOP)
    members = admin.request("getMembers", expect="members", roomId=room_id)["members"]
    gone = next(m["userId"] for m in members if m["name"] == "Gone")
    admin.request("removeMember", expect="memberRemoved", roomId=room_id, userId=gone)
    expect(room_entry(page, "Closed door")).to_have_count(0)
    network.inject(
        {
            "type": "message",
            "message": {
                "roomId": room_id,
                "messageId": "00000000000000ff",
                "userId": admin.user_id,
                "name": "Strict",
                "text": "a broadcast on its way",
                "sentAt": "2099-01-01T00:00:00.000Z",
                "kind": "text",
                "version": 1,
            },
        }
    )
    network.inject({"type": "typing", "roomId": room_id, "userId": admin.user_id, "name": "Strict"})
    # A frame after them, seen on the page: by then the page has handled the ones before.
    network.inject(
        {
            "type": "roomCreated",
            "room": {
                "roomId": "zzzzzzzzzz",
                "name": "Marker",
                "adminId": "u00000000000000000000",
                "createdAt": "2099-01-01T00:00:00.000Z",
                "role": "admin",
                "status": "approved",
            },
        }
    )
    expect(room_entry(page, "Marker")).to_have_count(1)
    expect(page.locator("#room-list .room-item")).to_have_count(1)


@SCREENS
def test_look_alike_names_are_told_apart_in_the_conversation(
    open_page: OpenPage, make_client: MakeClient, screen: dict[str, Any]
) -> None:
    """Anna and Anna with a Cyrillic A, René composed and decomposed: each author says who."""
    admin, room_id = hosted_room(make_client, "Host", "Doubles")
    page = member_page(open_page, admin, room_id, "Reader", screen)
    people = [make_client(name) for name in ("Anna", "\u0410nna", "Ren\u00e9", "Rene\u0301")]
    for person in people:
        person.request("joinRoom", expect="joinRequested", roomId=room_id)
        admin.wait_for("joinRequest", roomId=room_id)
        admin.request(
            "joinRoom", expect="joinDecided", roomId=room_id, op="approve", userId=person.user_id
        )
        person.wait_for("joinDecision", roomId=room_id)
    for person in people:
        say(person, room_id, f"I am {person.name}")
    authors = page.locator("#messages .message .author")
    expect(authors).to_have_text([f"{p.name} #{p.user_id[1:5]}" for p in people])
    expect(page.locator("#messages")).to_contain_text(
        f"Anna #{people[0].user_id[1:5]} joined the room"
    )
