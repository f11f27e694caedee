"""The defects a real session found (issue 12), each on a desktop and a phone screen."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from emulator.harness import Harness
from tests.browser.pages import (
    DESKTOP,
    PHONE,
    SCREENS,
    MakeClient,
    Network,
    OpenPage,
    ask_to_join,
    create_room,
    hosted_room,
    member_page,
    message_box,
    networked_member,
    open_rooms,
    room_entry,
    send,
    show_members,
    sign_in,
)
from tests.client import ChatClient
from tests.e2e.chat import is_text, say

SCROLLED = "document.getElementById('messages').scrollTop"
SCROLL_UP_THEN_DRAW = """() => {
  document.getElementById('messages').scrollTop = 0;
  window.dispatchEvent(new Event('online'));
  return document.getElementById('messages').scrollTop;
}"""


def texts_in(client: ChatClient, room_id: str, text: str) -> int:
    """How many stored messages of the room carry ``text``."""
    page = client.request("getHistory", expect="history", roomId=room_id)["messages"]
    return sum(1 for m in page if m["kind"] == "text" and m["text"] == text)


# --- 1. scroll position ------------------------------------------------------------------


@SCREENS
def test_reader_scrolled_up_keeps_place_and_sees_new_marker(
    open_page: OpenPage, make_client: MakeClient, screen: dict[str, Any]
) -> None:
    """A live message doesn't move a reader who scrolled up; a marker and a jump control do."""
    admin, room_id = hosted_room(make_client, "Talker", "Long")
    for n in range(40):
        say(admin, room_id, f"line {n:02d}\nwith a second line")
    page = member_page(open_page, admin, room_id, "Reader", screen)
    expect(page.locator("#messages .message")).to_have_count(40)
    # The reader scrolls up, and the page draws again before the browser reports the
    # scroll (it does once a frame; here a network change draws at once): the reader
    # stays where they scrolled to.
    assert page.evaluate(SCROLL_UP_THEN_DRAW) == 0
    page.wait_for_function(f"() => {SCROLLED} === 0")

    say(admin, room_id, "while you were reading")
    jump = page.locator("#jump")
    expect(jump).to_have_text("1 new message — jump to latest")
    expect(page.locator("#messages .new-marker")).to_have_text("New messages")
    assert page.evaluate(SCROLLED) == 0, "the reader was moved"

    jump.click()
    expect(jump).to_be_hidden()
    expect(page.locator("#messages .message").last).to_be_in_viewport()
    expect(page.locator("#messages .message").last).to_be_focused()


# --- 2. duplicate messages ---------------------------------------------------------------


@SCREENS
def test_double_enter_and_double_click_send_one_message(
    open_page: OpenPage, make_client: MakeClient, screen: dict[str, Any]
) -> None:
    """Two quick Enters, or a double click on Send, post one message, not two."""
    admin, room_id = hosted_room(make_client, "Witness", "Once")
    page = member_page(open_page, admin, room_id, "Quick", screen)
    box = message_box(page)
    box.fill("pressed twice")
    box.press("Enter")
    box.press("Enter")
    box.fill("clicked twice")
    page.get_by_role("button", name="Send").dblclick()
    mine = page.locator("#messages .message.mine")
    expect(mine).to_have_count(2)
    expect(mine.locator(".state", has_text="Sending")).to_have_count(0)
    assert texts_in(admin, room_id, "pressed twice") == 1
    assert texts_in(admin, room_id, "clicked twice") == 1
    arrived = [e["message"]["text"] for e in admin.drain() if is_text(e)]
    assert sorted(arrived) == ["clicked twice", "pressed twice"]


def test_lost_reply_is_retried_with_the_same_id(
    open_page: OpenPage, make_client: MakeClient
) -> None:
    """The reply to a send is lost with the connection; the resend doesn't make a copy."""
    admin, room_id = hosted_room(make_client, "Witness", "Flaky")
    page, network = networked_member(open_page, admin, room_id, "Unlucky", DESKTOP)

    # Both what tells the page its message is in: its own copy, and the reply.
    network.hold_replies += ['"text":"exactly once"', '"type":"messageSent"']
    admin.drain()
    message_box(page).fill("exactly once")
    message_box(page).press("Enter")
    admin.wait_for("message", lambda e: e["message"]["text"] == "exactly once")
    expect(page.locator(".message.mine .state")).to_have_text("Sending…")
    network.drop()
    expect(page.locator(".message.mine .state")).to_have_text("Sending when back online")
    network.restore()

    expect(page.locator("#connection")).to_have_text("Online", timeout=40_000)
    expect(page.locator(".message.mine .state")).to_have_count(0, timeout=20_000)
    expect(page.locator("#messages .message.mine")).to_have_count(1)
    assert texts_in(admin, room_id, "exactly once") == 1
    assert [e for e in admin.drain() if is_text(e)] == []


def test_unanswered_message_fails_with_retry_and_keeps_its_text(
    open_page: OpenPage, make_client: MakeClient
) -> None:
    """A send that gets no answer shows as failed, keeps its text, and Retry delivers it once."""
    admin, room_id = hosted_room(make_client, "Witness", "Slow")
    page, network = networked_member(open_page, admin, room_id, "Patient", DESKTOP)

    # Unanswered, it goes once more by itself (same id); unanswered again, it fails.
    network.hold_replies += ['"text":"keep me"', '"type":"messageSent"', '"type":"messageSent"']
    message_box(page).fill("keep me")
    message_box(page).press("Enter")
    failed = page.locator("#messages .message.failed")
    expect(failed.locator(".bubble")).to_have_text("keep me", timeout=40_000)
    expect(failed).to_contain_text("Not sent: No answer from the server.")
    failed.get_by_role("button", name="Retry sending").click()
    expect(page.locator("#messages .message.mine .state")).to_have_count(0)
    expect(page.locator("#messages .message.mine")).to_have_count(1)
    assert texts_in(admin, room_id, "keep me") == 1


# --- 3. phone layout -----------------------------------------------------------------------


def test_phone_admin_sees_waiting_requests(open_page: OpenPage, make_client: MakeClient) -> None:
    """On a phone, a request shows in the room itself and as badges on ☰ and Members."""
    page = open_page(**PHONE)
    sign_in(page, "Admin on the go")
    other = create_room(page, "Elsewhere")
    here = create_room(page, "Here")
    asker = make_client("Asker")
    asker.request("joinRoom", expect="joinRequested", roomId=here)
    card = page.locator("#requests .request", has_text="Asker")
    expect(card).to_be_in_viewport()
    expect(page.locator("#members-badge")).to_have_text("1")
    asker.request("joinRoom", expect="joinRequested", roomId=other)
    expect(page.locator("#menu-badge")).to_have_text("1")
    expect(page.get_by_role("button", name="Show rooms (1 new)")).to_be_visible()
    card.get_by_role("button", name="Approve Asker").click()
    expect(page.locator("#members-badge")).to_be_hidden()


def test_phone_invite_link_offers_ask_to_join_on_screen(
    open_page: OpenPage, make_client: MakeClient
) -> None:
    """An invite opened on a phone names the room, with Ask to join on screen, not in a drawer."""
    _, room_id = hosted_room(make_client, "Host", "Picnic")
    page = open_page(f"?room={room_id}", **PHONE)
    sign_in(page, "Guest")
    ask = page.locator("#invite").get_by_role("button", name="Ask to join")
    expect(page.locator("#invite")).to_contain_text("You're invited to Picnic")
    expect(ask).to_be_in_viewport()
    expect(ask).to_be_focused()
    ask.tap()
    expect(page.locator("#room-status")).to_contain_text("Waiting for the room's admin")


def test_phone_header_fits_name_and_fingers(open_page: OpenPage) -> None:
    """On a phone the name is readable, the room header is one row and targets are 44 px."""
    page = open_page(**PHONE)
    sign_in(page, "Alexandra")
    create_room(page, "A room with a rather long name")
    who = page.locator("#whoami")
    widths = who.evaluate("el => [el.clientWidth, el.scrollWidth]")
    assert widths[0] >= widths[1], f"the name is cut: {widths}"
    header = page.locator(".room-header").bounding_box()
    assert header is not None
    assert header["height"] < 64, f"the room header takes {header['height']} px"
    small = page.evaluate(
        """[...document.querySelectorAll('button, input, textarea')]
             .filter((el) => el.getClientRects().length)
             .filter((el) => getComputedStyle(el).visibility !== 'hidden')
             .map((el) => [el.id || el.textContent.trim(), el.getBoundingClientRect().height])
             .filter(([, height]) => height < 44)"""
    )
    assert small == [], f"tap targets under 44 px: {small}"


# --- 4. keyboard focus -----------------------------------------------------------------------


def focused(page: Page) -> str:
    return str(page.evaluate("document.activeElement ? document.activeElement.tagName : ''"))


@SCREENS
def test_focus_never_falls_to_the_body(
    open_page: OpenPage, make_client: MakeClient, screen: dict[str, Any]
) -> None:
    """After signing in, approving and choosing a room, and while messages arrive, focus stays."""
    page = open_page(**screen)
    page.get_by_label("Display name").fill("Keys")
    page.get_by_label("Display name").press("Enter")
    expect(page.locator("#connection")).to_have_text("Online")
    assert focused(page) != "BODY"
    first = create_room(page, "First")
    create_room(page, "Second")
    for name in ("Ann", "Ben"):
        make_client(name).request("joinRoom", expect="joinRequested", roomId=first)
    open_rooms(page)
    room_entry(page, "First").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#room-title")).to_have_text("First")
    assert focused(page) != "BODY"
    approve_ann = page.get_by_role("button", name="Approve Ann")
    approve_ann.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Approve Ben")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#requests-panel")).to_be_hidden()
    assert focused(page) != "BODY"

    if screen is DESKTOP:
        room_entry(page, "Second").focus()
        helper = make_client("Ann", key=None)
        helper.request("joinRoom", expect="joinRequested", roomId=first)
        expect(room_entry(page, "First").locator(".badge")).to_have_text("1")
        expect(room_entry(page, "Second")).to_be_focused()


def test_message_list_scrolls_by_keyboard_with_a_visible_ring(
    open_page: OpenPage, make_client: MakeClient
) -> None:
    """The message list is one Tab stop; Home/End reach its ends; the focus ring is 3:1 or more."""
    admin, room_id = hosted_room(make_client, "Talker", "Scroll")
    for n in range(30):
        say(admin, room_id, f"entry {n}\nsecond line")
    page = member_page(open_page, admin, room_id, "Reader", DESKTOP)
    messages = page.locator("#messages")
    expect(messages.locator(".message")).to_have_count(30)
    message_box(page).focus()
    page.keyboard.press("Shift+Tab")  # the list is the stop before the message box
    newest = messages.locator("[data-entry]").last
    expect(newest).to_be_focused()
    page.keyboard.press("Home")
    expect(messages.locator("[data-entry]").first).to_be_focused()
    page.wait_for_function(f"() => {SCROLLED} === 0")
    page.keyboard.press("End")
    expect(newest).to_be_focused()
    page.wait_for_function(f"() => {SCROLLED} > 0")
    ring = page.evaluate(
        """(() => {
             const channel = (v) => {
               v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
             const lum = (c) => { const [r, g, b] = c.match(/\\d+/g).slice(0, 3).map(Number)
               .map(channel); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
             const style = getComputedStyle(document.activeElement);
             return [style.outlineStyle, 1.05 / (lum(style.outlineColor) + 0.05)];
           })()"""
    )
    assert ring[0] != "none"
    assert ring[1] >= 3, f"focus ring contrast against white is {ring[1]:.2f}:1"


# --- 5. accessibility details ------------------------------------------------------------------


def test_live_region_keeps_its_entries_when_a_message_arrives(
    open_page: OpenPage, make_client: MakeClient
) -> None:
    """New messages are added to the polite live region, not a rebuild of the whole list."""
    admin, room_id = hosted_room(make_client, "Talker", "Live")
    say(admin, room_id, "first")
    page = member_page(open_page, admin, room_id, "Listener", DESKTOP)
    expect(page.locator("#messages .message")).to_have_count(1)
    page.evaluate("document.querySelector('#messages .message').dataset.seen = 'yes'")
    say(admin, room_id, "second")
    expect(page.locator("#messages .message")).to_have_count(2)
    expect(page.locator("#messages .message").first).to_have_attribute("data-seen", "yes")
    expect(page.get_by_role("main")).to_have_count(1)
    expect(page.get_by_role("main")).to_be_visible()


# --- 6. stale and missing states ------------------------------------------------------------


def test_first_visit_shows_no_offline_alarm(open_page: OpenPage) -> None:
    """Before signing in there is nothing to be offline from: no red Offline pill."""
    page = open_page(**DESKTOP)
    expect(page.get_by_label("Display name")).to_be_focused()
    expect(page.locator("#connection")).to_be_hidden()
    expect(page.get_by_text("Offline")).to_have_count(0)


@SCREENS
def test_offline_state_is_shown_and_clears(
    open_page: OpenPage, make_client: MakeClient, screen: dict[str, Any]
) -> None:
    """Offline: presence unknown, Send off, a countdown; back online, stale errors go."""
    admin, room_id = hosted_room(make_client, "Host", "Weather")
    page, network = networked_member(open_page, admin, room_id, "Roamer", screen)
    host = page.locator("#member-list .member", has_text="Host")
    expect(host).to_contain_text("online")
    network.drop()

    pill = page.locator("#connection")
    expect(pill).to_contain_text("Offline — retrying in")
    first = pill.inner_text()
    expect(pill).not_to_have_text(first)  # it counts down (or starts over after a retry)
    expect(page.get_by_role("button", name="Send")).to_be_disabled()
    show_members(page)
    expect(host).to_contain_text("status unknown while offline")
    page.keyboard.press("Escape")
    open_rooms(page)
    page.get_by_label("New room").fill("Made offline")
    page.get_by_role("button", name="Create").click()
    error = page.locator("#create-form .field-error")
    expect(error).to_contain_text("You're offline")

    network.restore()
    expect(pill).to_have_text("Online", timeout=40_000)
    expect(error).to_be_hidden()
    expect(page.get_by_role("button", name="Send")).to_be_enabled()


def rejected_page(open_page: OpenPage, admin: ChatClient, room_id: str, name: str) -> Page:
    """A desktop user who opens the invite link, asks, and is turned down by ``admin``."""
    page = open_page(f"?room={room_id}", **DESKTOP)
    sign_in(page, name)
    ask_to_join(page)
    user_id = admin.wait_for("joinRequest", roomId=room_id)["user"]["userId"]
    admin.request("joinRoom", expect="joinDecided", roomId=room_id, op="reject", userId=user_id)
    return page


def test_declined_notice_goes_when_asking_again(
    open_page: OpenPage, make_client: MakeClient
) -> None:
    """A rejected user asks again with a button; "declined" doesn't linger beside "Waiting"."""
    admin, room_id = hosted_room(make_client, "Strict", "Club")
    page = rejected_page(open_page, admin, room_id, "Hopeful")
    status = page.locator("#room-status")
    expect(status).to_contain_text("declined")
    status.get_by_role("button", name="Ask again").click()
    expect(status).to_contain_text("Waiting for the room's admin")
    expect(page.get_by_text("declined")).to_have_count(0)
    expect(page.locator("#notice")).to_be_hidden()


def test_rejected_room_can_be_removed_from_the_list(
    open_page: OpenPage, make_client: MakeClient
) -> None:
    """ "Remove from my list" drops a rejected room for good, even after a reload."""
    admin, room_id = hosted_room(make_client, "Strict", "Closed")
    page = rejected_page(open_page, admin, room_id, "Persistent")
    page.get_by_role("button", name="Remove from my list").click()
    expect(room_entry(page, "Closed")).to_have_count(0)
    page.reload()
    expect(page.locator("#connection")).to_have_text("Online")
    expect(room_entry(page, "Closed")).to_have_count(0)


def test_vanished_room_and_draft_are_not_lost_silently(stack: Harness, open_page: OpenPage) -> None:
    """When the server no longer has the open room (a reset), the page says so, with the draft."""
    page = open_page(**DESKTOP)
    network = Network(page)
    sign_in(page, "Drafter")
    room_id = create_room(page, "Ephemeral")
    message_box(page).fill("half-written thought")
    network.drop()
    # What a restart of the in-memory stack leaves: the room's items are gone.
    assert stack.target is not None
    assert stack.outputs is not None
    dynamodb = stack.target.client("dynamodb")
    rooms_table = stack.outputs.tables["ROOMS_TABLE"]
    for item in dynamodb.query(
        TableName=rooms_table,
        KeyConditionExpression="roomId = :r",
        ExpressionAttributeValues={":r": {"S": room_id}},
    )["Items"]:
        dynamodb.delete_item(
            TableName=rooms_table, Key={"roomId": item["roomId"], "sk": item["sk"]}
        )
    network.restore()

    lost = page.locator("#lost")
    expect(lost).to_contain_text("Ephemeral is gone", timeout=40_000)
    expect(page.get_by_label("Your unsent text")).to_have_value("half-written thought")
    expect(page.get_by_role("button", name="Dismiss")).to_be_focused()


# --- 7. dead ends ------------------------------------------------------------------------


@SCREENS
def test_limits_show_while_typing_and_nothing_is_cut(
    open_page: OpenPage, screen: dict[str, Any]
) -> None:
    """Counters show the limits as you type; over them, nothing is sent or cut."""
    page = open_page(**screen)
    page.get_by_label("Display name").fill("N" * 33)
    expect(page.locator("#name-count")).to_have_text("33 / 32 — 1 too many")
    sign_in(page, "Counter")
    open_rooms(page)
    room_name = "r" * 69
    page.get_by_label("New room").fill(room_name)
    expect(page.locator("#create-count")).to_have_text("69 / 64 — 5 too many")
    page.get_by_role("button", name="Create").click()
    expect(page.locator("#create-form .field-error")).to_have_text(
        "Room names can be at most 64 characters."
    )
    expect(page.get_by_label("New room")).to_have_value(room_name)
    expect(page.locator("#room-list .room-item")).to_have_count(0)

    create_room(page, "Limits")
    long_text = "w" * 2520
    message_box(page).fill(long_text)
    expect(page.locator("#message-count")).to_have_text("2520 / 2000 — 520 too many")
    message_box(page).press("Enter")
    expect(page.locator("#composer .field-error")).to_have_text(
        "Messages can be at most 2000 characters."
    )
    expect(message_box(page)).to_have_value(long_text)
    expect(page.locator("#messages .message")).to_have_count(0)
    send(page, "short")
    expect(page.locator("#messages .message .bubble")).to_have_text("short")
