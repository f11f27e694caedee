"""The chat in a real browser: two and three users through the whole flow."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Browser, Page, WebSocketRoute, expect

from emulator.harness import Harness
from tests.browser.pages import OpenPage, ask_to_join, create_room, send, sign_in


def admit(admin: Page, user_page: Page, name: str, room_id: str) -> None:
    """user_page opens the invite link, asks to join; the admin approves."""
    user_page.goto(admin.url.split("?")[0] + f"?room={room_id}")
    sign_in(user_page, name)
    ask_to_join(user_page)
    admin.get_by_role("button", name=f"Approve {name}").click()
    expect(user_page.get_by_label("Message", exact=True)).to_be_visible()


def test_create_share_request_approve_and_chat(open_page: OpenPage, artifacts: Path) -> None:
    """Admin creates, shares the link, sees the request live, approves; both chat."""
    alice = open_page(viewport={"width": 1280, "height": 800})
    sign_in(alice, "Alice")
    room_id = create_room(alice, "Design review")
    alice.context.grant_permissions(["clipboard-read", "clipboard-write"])
    alice.get_by_role("button", name="Copy invite link").click()
    link = alice.evaluate("navigator.clipboard.readText()")
    assert link.endswith(f"?room={room_id}")

    bob = open_page()
    bob.goto(link)
    sign_in(bob, "Bob")
    expect(bob.get_by_label("Join by room id")).to_have_value(room_id)
    expect(bob.locator("#invite")).to_contain_text("You're invited to Design review")
    ask_to_join(bob)
    expect(bob.locator("#room-status")).to_contain_text("Waiting for the room's admin")

    expect(alice.locator("#requests")).to_contain_text("Bob")
    alice.get_by_role("button", name="Approve Bob").click()
    expect(bob.get_by_label("Message", exact=True)).to_be_visible()

    send(bob, "Hi Alice! Thanks for having me.")
    expect(alice.locator("#messages")).to_contain_text("Hi Alice! Thanks for having me.")
    send(alice, "Welcome, Bob. The agenda is in the doc.")
    expect(bob.locator("#messages")).to_contain_text("Welcome, Bob.")

    members = alice.locator("#member-list")
    expect(members.locator(".member")).to_have_count(2)
    expect(members.locator(".member", has_text="Alice")).to_contain_text("admin")
    expect(members.locator(".member", has_text="Bob")).to_contain_text("online")
    expect(bob.locator("#member-list .member", has_text="Alice")).to_contain_text("admin")

    carol = open_page()
    carol.goto(link)
    sign_in(carol, "Carol")
    ask_to_join(carol)
    expect(alice.locator("#requests")).to_contain_text("Carol")
    expect(bob.locator("#member-list")).to_contain_text("pending approval")
    alice.screenshot(path=str(artifacts / "admin-view.png"))


def test_rejected_user_is_told(open_page: OpenPage) -> None:
    """Reject path: the requester's page says so and offers no composer."""
    alice = open_page()
    sign_in(alice, "Alice")
    room_id = create_room(alice, "Private")
    eve = open_page(f"?room={room_id}")
    sign_in(eve, "Eve")
    ask_to_join(eve)
    alice.get_by_role("button", name="Reject Eve").click()
    expect(eve.locator("#room-status")).to_contain_text("declined")
    expect(eve.get_by_label("Message", exact=True)).to_be_hidden()


def test_reload_resumes_user_room_and_history(open_page: OpenPage) -> None:
    """After a reload the same user is back in the same room, with its history."""
    alice = open_page()
    sign_in(alice, "Alice")
    room_id = create_room(alice, "Persistent")
    bob = open_page()
    admit(alice, bob, "Bob", room_id)
    send(alice, "remember me")
    expect(bob.locator("#messages")).to_contain_text("remember me")

    bob.reload()
    expect(bob.locator("#connection")).to_have_text("Online")
    expect(bob.locator("#whoami")).to_have_text("Bob")
    expect(bob.locator("#room-title")).to_have_text("Persistent")
    expect(bob.locator("#messages")).to_contain_text("remember me")
    send(bob, "still me")
    expect(alice.locator("#messages .message", has_text="still me")).to_contain_text("Bob")


def test_markup_in_messages_and_names_is_text(open_page: OpenPage) -> None:
    """HTML in a name or message is shown as typed and never runs."""
    payload = '<img src=x onerror="window.__pwned = 1">'
    alice = open_page()
    sign_in(alice, "Alice")
    room_id = create_room(alice, "<b>bold room</b>")
    mallory = open_page()
    admit(alice, mallory, "<i>Mallory</i>", room_id)
    send(mallory, payload)
    expect(alice.locator("#messages")).to_contain_text(payload)
    expect(alice.locator("#room-title")).to_have_text("<b>bold room</b>")
    expect(alice.locator("#member-list")).to_contain_text("<i>Mallory</i>")
    for page in (alice, mallory):
        assert page.locator("#messages img, #room-title b, #member-list i").count() == 0
        assert page.evaluate("window.__pwned") is None


def test_dropped_connection_reconnects_and_catches_up(open_page: OpenPage) -> None:
    """A dropped socket comes back by itself and shows what was sent meanwhile."""
    alice = open_page()
    sign_in(alice, "Alice")
    room_id = create_room(alice, "Flaky network")
    bob = open_page()
    routes: list[WebSocketRoute] = []
    blocked = {"now": False}

    def through(route: WebSocketRoute) -> None:
        if blocked["now"]:
            route.close(code=4000, reason="network down")
            return
        routes.append(route)
        routes.append(route.connect_to_server())

    bob.route_web_socket(re.compile(".*"), through)
    admit(alice, bob, "Bob", room_id)

    blocked["now"] = True
    page_side, server_side = routes[-2:]
    # Browsers only let scripts close with 1000 or 3000-4999; 4000 stands for "network down".
    server_side.close(code=4000, reason="network down")
    expect(alice.locator("#member-list .member", has_text="Bob")).to_contain_text("offline")
    page_side.close(code=4000, reason="network down")
    expect(bob.locator("#connection")).to_contain_text("Offline")
    send(alice, "sent while you were away")
    blocked["now"] = False

    expect(bob.locator("#connection")).to_have_text("Online", timeout=40_000)
    expect(bob.locator("#messages")).to_contain_text("sent while you were away")
    send(alice, "and after")
    expect(bob.locator("#messages")).to_contain_text("and after")


def test_page_loads_without_console_errors(browser: Browser, stack: Harness) -> None:
    """No 404s, CSP violations or script errors while loading, signing in and chatting."""
    assert stack.website is not None
    context = browser.new_context()
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(stack.website.url)
    sign_in(page, "Quiet")
    create_room(page, "Calm")
    send(page, "nothing to report")
    expect(page.locator("#messages")).to_contain_text("nothing to report")
    context.close()
    assert problems == []
