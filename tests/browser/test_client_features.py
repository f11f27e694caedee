"""Client features in a real browser: paging, phone layout, keyboard use, unread, leaving."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import expect

from tests.browser.pages import (
    MakeClient,
    Network,
    OpenPage,
    approve,
    ask_to_join,
    create_room,
    focus_by_tab,
    hosted_room,
    message_box,
    no_horizontal_overflow,
    room_entry,
    sign_in,
)


def test_load_older_pages_through_history(open_page: OpenPage, make_client: MakeClient) -> None:
    """A new member sees the newest 50 messages and "Load older messages" fetches the rest."""
    admin, room_id = hosted_room(make_client, "Archivist", "Archive")
    for n in range(1, 56):
        sent = admin.request("sendMessage", expect="messageSent", roomId=room_id, text=f"m{n:02d}")
        assert sent["type"] == "messageSent", sent

    reader = open_page(f"?room={room_id}")
    sign_in(reader, "Reader")
    ask_to_join(reader)
    approve(admin, room_id)

    # The newest 50 entries: m07 to m55, and the notice that the reader joined.
    bubbles = reader.locator("#messages .message .bubble")
    expect(bubbles).to_have_count(49)
    expect(bubbles.first).to_have_text("m07")
    expect(reader.locator("#messages .notice-entry")).to_have_text(re.compile("You joined"))
    expect(bubbles.last).to_have_text("m55")
    older = reader.get_by_role("button", name="Load older messages")
    expect(older).to_be_visible()

    older.click()
    expect(bubbles).to_have_count(55)
    expect(bubbles).to_have_text([f"m{n:02d}" for n in range(1, 56)])
    expect(older).to_have_count(0)


def test_phone_sized_screen_is_usable(open_page: OpenPage, artifacts: Path) -> None:
    """On a 390x844 phone the panels open from their toggles, you can chat, nothing overflows."""
    phone = open_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    sign_in(phone, "Pat")
    no_horizontal_overflow(phone)

    menu = phone.get_by_role("button", name="Show rooms")
    expect(menu).to_be_visible()
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(phone.get_by_label("New room")).not_to_be_in_viewport()
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(phone.get_by_label("New room")).to_be_in_viewport()
    create_room(phone, "Pocket")
    # Creating a room closes the panel, so the conversation is what the phone shows.
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(phone.locator("#sidebar")).not_to_be_in_viewport()

    members_toggle = phone.get_by_role("button", name="Members")
    expect(members_toggle).to_have_attribute("aria-expanded", "false")
    members_toggle.click()
    expect(members_toggle).to_have_attribute("aria-expanded", "true")
    expect(phone.locator("#member-list .member", has_text="Pat (you)")).to_be_in_viewport()
    phone.keyboard.press("Escape")
    expect(members_toggle).to_have_attribute("aria-expanded", "false")
    expect(phone.locator("#members")).not_to_be_in_viewport()

    box = message_box(phone)
    expect(box).to_be_in_viewport()
    expect(phone.get_by_role("button", name="Send")).to_be_in_viewport()
    box.tap()
    box.fill("Typed on a phone")
    phone.get_by_role("button", name="Send").tap()
    expect(phone.locator("#messages .message.mine .bubble")).to_have_text("Typed on a phone")
    expect(box).to_have_value("")

    menu.click()
    expect(room_entry(phone, "Pocket")).to_be_in_viewport()
    room_entry(phone, "Pocket").click()
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(phone.locator("#sidebar")).not_to_be_in_viewport()
    no_horizontal_overflow(phone)
    phone.screenshot(path=str(artifacts / "phone-view.png"), animations="disabled")


def test_keyboard_only_sign_in_create_and_send(open_page: OpenPage) -> None:
    """Enter signs in, creates a room and sends; Shift+Enter adds a line instead of sending."""
    page = open_page(viewport={"width": 1280, "height": 800})
    expect(page.get_by_label("Display name")).to_be_focused()
    page.keyboard.type("Kim")
    page.keyboard.press("Enter")
    expect(page.locator("#connection")).to_have_text("Online")

    focus_by_tab(page, "create-input")
    page.keyboard.type("Keys only")
    page.keyboard.press("Enter")
    expect(page.locator("#room-title")).to_have_text("Keys only")

    focus_by_tab(page, "message-input")
    page.keyboard.type("first line")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("second line")
    expect(message_box(page)).to_have_value("first line\nsecond line")
    expect(page.locator("#messages .message")).to_have_count(0)
    page.keyboard.press("Enter")
    expect(page.locator("#messages .message .bubble")).to_have_text("first line\nsecond line")
    expect(message_box(page)).to_have_value("")
    expect(message_box(page)).to_be_focused()

    # Keyboard focus is visible on buttons.
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Send")).to_be_focused()
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none"), outline


def test_unread_counts_per_room(open_page: OpenPage, make_client: MakeClient) -> None:
    """Messages in another room show its unread count in the list; opening it clears the count."""
    page = open_page(viewport={"width": 1280, "height": 800})
    sign_in(page, "Ida")
    alpha = create_room(page, "Alpha")
    beta = create_room(page, "Beta")

    helper = make_client("Helper")
    for room_id in (alpha, beta):
        asked = helper.request("joinRoom", expect="joinRequested", roomId=room_id, op="request")
        assert asked["type"] == "joinRequested", asked
    # Beta is open: its request is on screen; Alpha's waiting request counts once in the list.
    page.get_by_role("button", name="Approve Helper").click()
    helper.wait_for("joinDecision", roomId=beta, status="approved")
    expect(room_entry(page, "Alpha").locator(".badge")).to_have_text("1")
    room_entry(page, "Alpha").click()
    page.get_by_role("button", name="Approve Helper").click()
    helper.wait_for("joinDecision", roomId=alpha, status="approved")
    expect(page.locator("#member-list .member", has_text="Helper")).to_contain_text("online")
    expect(room_entry(page, "Alpha").locator(".badge")).to_have_count(0)
    expect(room_entry(page, "Beta").locator(".badge")).to_have_count(0)

    for text in ("one in Beta", "two in Beta"):
        helper.request("sendMessage", expect="messageSent", roomId=beta, text=text)
    expect(room_entry(page, "Beta").locator(".badge")).to_have_text("2")
    expect(room_entry(page, "Alpha").locator(".badge")).to_have_count(0)
    expect(page.locator("#messages")).not_to_contain_text("in Beta")

    room_entry(page, "Beta").click()
    expect(page.locator("#messages .message .bubble")).to_have_text(["one in Beta", "two in Beta"])
    expect(room_entry(page, "Beta").locator(".badge")).to_have_count(0)


def test_approve_after_switching_rooms_decides_the_room_on_screen(
    open_page: OpenPage, make_client: MakeClient
) -> None:
    """One person asks to join two rooms: Approve in the room switched to approves that
    room's request, even while the first room's card for them was still on screen."""
    page = open_page(viewport={"width": 1280, "height": 800})
    network = Network(page)
    sign_in(page, "Ida")
    alpha = create_room(page, "Alpha")
    beta = create_room(page, "Beta")
    helper = make_client("Helper")
    for room_id in (alpha, beta):
        helper.request("joinRoom", expect="joinRequested", roomId=room_id, op="request")
    approve_helper = page.get_by_role("button", name="Approve Helper")
    expect(approve_helper).to_be_visible()
    # Beta's member list after the approval is late (as under load): its card stays.
    network.hold_replies.append(f'"type":"members","roomId":"{beta}"')
    approve_helper.click()
    helper.wait_for("joinDecision", roomId=beta, status="approved")
    expect(approve_helper).to_be_visible()
    room_entry(page, "Alpha").click()
    expect(page.locator("#room-title")).to_have_text("Alpha")
    approve_helper.click()
    helper.wait_for("joinDecision", roomId=alpha, status="approved")


def test_member_leaves_room(open_page: OpenPage) -> None:
    """A member who leaves loses the room from their list and drops off the admin's member list."""
    admin = open_page()
    sign_in(admin, "Ada")
    room_id = create_room(admin, "Short stay")
    guest = open_page(f"?room={room_id}")
    sign_in(guest, "Gus")
    ask_to_join(guest)
    admin.get_by_role("button", name="Approve Gus").click()
    expect(message_box(guest)).to_be_visible()
    expect(admin.locator("#member-list .member")).to_have_count(2)

    guest.get_by_role("button", name="Leave").click()
    dialog = guest.get_by_role("dialog")
    expect(dialog).to_contain_text("Leave Short stay?")
    dialog.get_by_role("button", name="Leave").click()
    expect(dialog).to_be_hidden()
    expect(guest.locator("#room-list .room-item")).to_have_count(0)
    expect(guest.locator("#room-empty")).to_be_visible()
    expect(guest.locator("#no-rooms")).to_be_visible()

    expect(admin.locator("#member-list .member")).to_have_count(1)
    expect(admin.locator("#member-list")).not_to_contain_text("Gus")


def test_refused_message_keeps_its_text_and_says_why(open_page: OpenPage) -> None:
    """A message the server refuses stays in the box, with a plain-words error under it."""
    page = open_page()
    sign_in(page, "Lena")
    create_room(page, "Limits")
    box = message_box(page)
    too_long = "x" * 2001
    box.evaluate("(el, text) => { el.value = text; }", too_long)  # past maxlength, as a paste bug
    box.press("Enter")
    error = page.locator("#composer .field-error")
    expect(error).to_have_text("Messages can be at most 2000 characters.")
    expect(box).to_have_value(too_long)
    box_top = box.bounding_box()
    error_top = error.bounding_box()
    assert box_top is not None
    assert error_top is not None
    assert error_top["y"] > box_top["y"]  # below the input, not squeezed beside it
    box.fill("short and fine")
    box.press("Enter")
    expect(page.locator("#messages")).to_contain_text("short and fine")
    expect(box).to_have_value("")
    expect(error).to_be_hidden()
