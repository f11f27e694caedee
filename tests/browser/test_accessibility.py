"""axe-core in the browser on every state a user meets, and the chat by keyboard alone.

Two axe-cores run on each state (tests/browser/axe.py): the one the
``axe-playwright-python`` package bundles (pinned in requirements-dev.txt), and the
newest from npm (pinned in the Makefile, cached outside the repository).
"""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.axe import BUNDLED, assert_accessible, newest_script
from tests.browser.pages import (
    DESKTOP,
    PHONE,
    MakeClient,
    OpenPage,
    create_room,
    hosted_room,
    message_box,
    send,
    sign_in,
)
from tests.e2e.chat import say


def test_axe_versions_are_the_pinned_ones() -> None:
    """The bundled axe-core is 4.12.1, and the newest is the Makefile's pin (4.14.1)."""
    assert BUNDLED.axe_script.startswith("/*! axe v4.12.1")
    assert newest_script().startswith("/*! axe v4.14.1")


def test_axe_finds_nothing_serious_in_any_state(
    open_page: OpenPage, make_client: MakeClient
) -> None:
    """Welcome, lobby, a room with messages, and the admin with a request waiting."""
    page = open_page(**DESKTOP)
    expect(page.get_by_label("Display name")).to_be_visible()
    assert_accessible(page, "welcome")

    sign_in(page, "Auditor")
    expect(page.locator("#room-empty")).to_be_visible()
    assert_accessible(page, "lobby")

    room_id = create_room(page, "Audit")
    send(page, "a message with a link https://example.com")
    guest = make_client("Guest")
    guest.request("joinRoom", expect="joinRequested", roomId=room_id)
    expect(page.get_by_role("button", name="Approve Guest")).to_be_visible()
    assert_accessible(page, "admin with a pending request")

    page.get_by_role("button", name="Approve Guest").click()
    guest.wait_for("joinDecision", roomId=room_id)
    say(guest, room_id, "hello from the guest")
    expect(page.locator("#messages")).to_contain_text("hello from the guest")
    assert_accessible(page, "room")


def test_axe_finds_nothing_serious_on_a_phone(open_page: OpenPage, make_client: MakeClient) -> None:
    """A phone: an invitation, then the room with a request and the drawers opened."""
    _, room_id = hosted_room(make_client, "Host", "Pocket")
    page = open_page(f"?room={room_id}", **PHONE)
    sign_in(page, "Thumbs")
    expect(page.locator("#invite")).to_contain_text("You're invited to Pocket")
    assert_accessible(page, "phone invitation")

    own = create_room(page, "Mine")
    make_client("Knocker").request("joinRoom", expect="joinRequested", roomId=own)
    expect(page.locator("#members-badge")).to_have_text("1")
    assert_accessible(page, "phone room with a request")
    page.get_by_role("button", name="Show rooms").click()
    expect(page.get_by_label("New room")).to_be_in_viewport()
    assert_accessible(page, "phone with the rooms drawer open")


def test_keyboard_only_sign_in_create_approve_send(
    open_page: OpenPage, make_client: MakeClient
) -> None:
    """Sign in, create a room, approve a request and send, by keyboard alone."""
    page = open_page(**DESKTOP)
    expect(page.get_by_label("Display name")).to_be_focused()
    page.keyboard.type("Kim")
    page.keyboard.press("Enter")
    expect(page.locator("#connection")).to_have_text("Online")
    expect(page.get_by_label("New room")).to_be_focused()
    page.keyboard.type("Keys only")
    page.keyboard.press("Enter")
    expect(page.locator("#room-title")).to_have_text("Keys only")
    expect(message_box(page)).to_be_focused()
    room_id = str(page.locator("#room-id").text_content())

    guest = make_client("Guest")
    guest.request("joinRoom", expect="joinRequested", roomId=room_id)
    approve = page.get_by_role("button", name="Approve Guest")
    expect(approve).to_be_visible()
    for _ in range(10):  # back from the message box to the request above the conversation
        if approve.evaluate("el => el === document.activeElement"):
            break
        page.keyboard.press("Shift+Tab")
    expect(approve).to_be_focused()
    page.keyboard.press("Enter")
    assert guest.wait_for("joinDecision", roomId=room_id)["status"] == "approved"
    expect(message_box(page)).to_be_focused()

    page.keyboard.type("welcome, typed without a mouse")
    page.keyboard.press("Enter")
    heard = guest.wait_for("message", lambda e: e["message"]["kind"] == "text")
    assert heard["message"]["text"] == "welcome, typed without a mouse"
    expect(page.locator("#messages .message.mine .bubble")).to_have_text(
        "welcome, typed without a mouse"
    )
