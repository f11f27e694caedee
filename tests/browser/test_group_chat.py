"""What people expect from a group chat (issue 12), each on a desktop and a phone screen."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page, expect

from chat.rules import Message
from emulator.harness import Harness
from tests.browser.pages import (
    DESKTOP,
    SCREENS,
    MakeClient,
    OpenPage,
    admit_client,
    approve,
    create_room,
    hosted_room,
    member_page,
    message_box,
    open_rooms,
    room_entry,
    send,
    show_members,
    sign_in,
)
from tests.e2e.chat import is_text, member, say, store_for


def confirm(page: Page, title: str, action: str) -> None:
    """Answer the page's own confirmation dialog."""
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(title)
    dialog.get_by_role("button", name=action).click()
    expect(dialog).to_be_hidden()


@SCREENS
def test_messages_grouped_by_author_and_minute_with_day_separators(
    stack: Harness, open_page: OpenPage, make_client: MakeClient, screen: dict[str, Any]
) -> None:
    """One header per author and minute; a separator at each new day."""
    admin, room_id = hosted_room(make_client, "Teller", "Days")
    store = store_for(stack)
    for n, (at, text) in enumerate(
        [("10:00:01", "first of the day"), ("10:00:40", "same minute"), ("10:05:00", "later on")]
    ):
        entry = Message(room_id, f"00000000000000a{n}", admin.user_id, "Teller", text, "")
        assert store.add_message(Message(**{**entry.__dict__, "sent_at": f"2025-01-06T{at}.000Z"}))
    page = member_page(open_page, admin, room_id, "Reader", screen)
    days = page.locator("#messages .day")
    expect(days).to_have_count(2)
    expect(days.first).to_contain_text("2025")
    expect(days.last).to_have_text("Today")
    messages = page.locator("#messages .message")
    expect(messages).to_have_count(3)
    shown_header = re.compile(r"^meta$")  # the later ones keep it for screen readers only
    expect(messages.nth(0).locator(".meta")).to_have_class(shown_header)
    expect(messages.nth(1)).to_have_class(re.compile(r"\bcontinued\b"))
    expect(messages.nth(1).locator(".meta")).to_have_class("meta visually-hidden")
    expect(messages.nth(2).locator(".meta")).to_have_class(shown_header)
    expect(page.locator("#messages .notice-entry")).to_contain_text("You joined the room")


@SCREENS
def test_links_are_clickable_only_when_http(open_page: OpenPage, screen: dict[str, Any]) -> None:
    """http(s) links become safe links; anything else stays text, markup included."""
    page = open_page(**screen)
    sign_in(page, "Linker")
    create_room(page, "Links")
    send(
        page,
        "docs at https://example.com/a?b=1, see (http://example.org/x). "
        "not javascript:alert(1) nor <a href=https://evil.example>x</a>",
    )
    links = page.locator("#messages .bubble a")
    expect(links).to_have_count(3)
    expect(links.nth(0)).to_have_attribute("href", "https://example.com/a?b=1")
    expect(links.nth(1)).to_have_attribute("href", "http://example.org/x")
    for n in range(3):
        expect(links.nth(n)).to_have_attribute("rel", "noopener noreferrer")
    expect(links.nth(2)).to_have_text("https://evil.example")
    expect(page.locator("#messages .bubble")).to_contain_text("<a href=")
    expect(page.locator("#messages .bubble a[href^='javascript']")).to_have_count(0)


@SCREENS
def test_room_list_by_activity_with_preview_and_unread_title(
    open_page: OpenPage, make_client: MakeClient, screen: dict[str, Any]
) -> None:
    """Rooms move up when they are active, show their last message, and count in the title."""
    helper, quiet = hosted_room(make_client, "Helper", "Quiet")
    busy = helper.request("createRoom", expect="roomCreated", name="Busy")["room"]["roomId"]
    say(helper, quiet, "nothing much")
    page = member_page(open_page, helper, busy, "Ida", screen)
    open_rooms(page)
    page.get_by_label("Join by room id").fill(quiet)
    expect(page.locator("#join-preview")).to_have_text("Quiet · 1 member")
    page.get_by_role("button", name="Ask to join").click()
    approve(helper, quiet)
    expect(page.locator("#room-title")).to_have_text("Quiet")
    say(helper, busy, "news in busy")
    open_rooms(page)
    names = page.locator("#room-list .room-name")
    expect(names).to_have_text(["Busy", "Quiet"])
    expect(room_entry(page, "Busy").locator(".room-preview")).to_have_text("Helper: news in busy")
    expect(room_entry(page, "Busy").locator(".badge")).to_have_text("1")
    expect(page).to_have_title("(1) Rooms — group chat")
    room_entry(page, "Busy").click()
    expect(page).to_have_title("Rooms — group chat")


def test_join_request_reaches_the_title_and_a_notification_when_hidden(
    notifying_page: Page, make_client: MakeClient
) -> None:
    """With the page in the background, a join request shows in the title and as a notification."""
    page = notifying_page
    sign_in(page, "Busy admin")
    room_id = create_room(page, "Front desk")
    # Headless Chromium never puts a page in the background; report it the way a hidden
    # tab does, so the page takes its own background path.
    page.evaluate(
        """Object.defineProperty(document, 'visibilityState', {get: () => 'hidden'});
           Object.defineProperty(document, 'hidden', {get: () => true});
           document.dispatchEvent(new Event('visibilitychange'));"""
    )
    make_client("Visitor").request("joinRoom", expect="joinRequested", roomId=room_id)
    expect(page).to_have_title("(1) Rooms — group chat")
    page.wait_for_function("() => window.shown.length === 1")
    assert page.evaluate("window.shown") == ["Visitor asks to join Front desk."]


@SCREENS
def test_author_edits_and_deletes_and_everyone_sees_it(
    open_page: OpenPage, make_client: MakeClient, screen: dict[str, Any]
) -> None:
    """The author edits and deletes a message; another member sees both live and after reload."""
    admin, room_id = hosted_room(make_client, "Host", "Edits")
    author = member_page(open_page, admin, room_id, "Author", screen)
    viewer = member_page(open_page, admin, room_id, "Viewer", DESKTOP)
    send(author, "helo wrold")
    seen = viewer.locator("#messages .message", has_text="helo wrold")
    expect(seen).to_be_visible()
    expect(seen.get_by_role("button", name="Edit your message")).to_have_count(0)

    mine = author.locator("#messages .message.mine")
    mine.click()  # a message's own actions show on the one chosen (on a phone, only there)
    mine.get_by_role("button", name="Edit your message").click()
    editor = author.get_by_label("Edit message")
    expect(editor).to_be_focused()
    editor.fill("hello world")
    editor.press("Enter")
    expect(mine.locator(".bubble")).to_have_text("hello world")
    edited = viewer.locator("#messages .message", has_text="hello world")
    expect(edited).to_contain_text("edited")

    mine.click()
    mine.get_by_role("button", name="Delete your message").click()
    confirm(author, "Delete this message?", "Delete")
    expect(mine.locator(".bubble")).to_have_text("This message was deleted.")
    expect(viewer.locator("#messages .message.deleted .bubble")).to_have_text(
        "This message was deleted."
    )
    viewer.reload()
    expect(viewer.locator("#messages .message.deleted .bubble")).to_have_text(
        "This message was deleted."
    )
    expect(viewer.locator("#messages")).not_to_contain_text("hello world")


@SCREENS
def test_admin_removes_a_member(
    open_page: OpenPage, make_client: MakeClient, screen: dict[str, Any]
) -> None:
    """The admin removes a member after confirming; the member is told and loses the room."""
    page = open_page(**screen)
    sign_in(page, "Moderator")
    room_id = create_room(page, "Moderated")
    guest = make_client("Troll")
    admit_client(page, guest, room_id)
    show_members(page)
    page.get_by_role("button", name="Remove Troll").click()
    confirm(page, "Remove Troll?", "Remove")
    assert guest.wait_for("removed", roomId=room_id)["roomName"] == "Moderated"
    expect(page.locator("#member-list")).not_to_contain_text("Troll")
    page.keyboard.press("Escape")
    expect(page.locator("#messages .notice-entry.removed")).to_contain_text(
        "Troll was removed by the admin"
    )
    refused = guest.request("sendMessage", expect="messageSent", roomId=room_id, text="hi?")
    assert refused["code"] == "NOT_MEMBER"


@SCREENS
def test_admin_hands_the_room_over_then_leaves(
    open_page: OpenPage, make_client: MakeClient, screen: dict[str, Any]
) -> None:
    """The admin makes a member admin, then leaves through the page's own dialog."""
    page = open_page(**screen)
    sign_in(page, "Founder")
    room_id = create_room(page, "Handover")
    heir = make_client("Heir")
    admit_client(page, heir, room_id)
    expect(page.get_by_role("button", name="Leave")).to_be_hidden()
    show_members(page)
    page.get_by_role("button", name="Make admin: Heir").click()
    confirm(page, "Make Heir the admin?", "Make admin")
    heir.wait_for("members", lambda e: (member(e, "Heir") or {}).get("role") == "admin")
    expect(page.locator("#member-list .member", has_text="Heir")).to_contain_text("admin")
    page.keyboard.press("Escape")
    expect(page.locator("#messages .notice-entry.admin")).to_contain_text(
        "Heir is now the room's admin"
    )
    page.get_by_role("button", name="Leave").click()
    confirm(page, "Leave Handover?", "Leave")
    expect(page.locator("#room-list .room-item")).to_have_count(0)
    left = heir.wait_for("message", lambda e: e["message"]["kind"] == "left")["message"]
    assert left["name"] == "Founder"
    assert not [e for e in heir.drain() if is_text(e)]


@SCREENS
def test_leave_can_be_cancelled(
    open_page: OpenPage, make_client: MakeClient, screen: dict[str, Any]
) -> None:
    """Cancel (or Escape) in the Leave dialog keeps the member in the room, focus on Leave."""
    admin, room_id = hosted_room(make_client, "Host", "Stay")
    page = member_page(open_page, admin, room_id, "Wavering", screen)
    leave = page.get_by_role("button", name="Leave")
    leave.click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(leave).to_be_focused()
    expect(message_box(page)).to_be_visible()
    assert admin.request("getMembers", expect="members", roomId=room_id)["members"][1]["name"] == (
        "Wavering"
    )
