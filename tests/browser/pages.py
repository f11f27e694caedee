"""What a user does on the chat page, shared by the browser tests."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, WebSocketRoute, expect

from tests.client import ChatClient
from tests.timing import seconds

# What a page's actions and expect() wait for by default (Playwright's unit: ms).
TIMEOUT_MS = seconds(15) * 1000

OpenPage = Callable[..., Page]
MakeClient = Callable[..., ChatClient]

DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 800}}
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
}
# Every new feature and fix is checked on both screens.
SCREENS = pytest.mark.parametrize("screen", [DESKTOP, PHONE], ids=["desktop", "phone"])


def sign_in(page: Page, name: str) -> None:
    page.get_by_label("Display name").fill(name)
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#connection")).to_have_text("Online")


def open_rooms(page: Page) -> None:
    """On a phone, open the drawer with the room list (a no-op on a desktop)."""
    menu = page.locator("#menu-toggle")
    if menu.is_visible() and menu.get_attribute("aria-expanded") == "false":
        menu.click()
        expect(page.locator("#sidebar")).to_be_in_viewport(ratio=1)


def show_members(page: Page) -> None:
    """On a phone, open the members drawer (a no-op on a desktop)."""
    toggle = page.locator("#members-toggle")
    if toggle.is_visible() and toggle.get_attribute("aria-expanded") == "false":
        toggle.click()


def create_room(page: Page, name: str) -> str:
    open_rooms(page)
    page.get_by_label("New room").fill(name)
    page.get_by_role("button", name="Create").click()
    expect(page.locator("#room-title")).to_have_text(name)
    return str(page.locator("#room-id").text_content())


def message_box(page: Page) -> Locator:
    return page.get_by_label("Message", exact=True)


def send(page: Page, text: str) -> None:
    message_box(page).fill(text)
    message_box(page).press("Enter")


def ask_to_join(page: Page) -> None:
    """On an invite link's page: the invitation names the room; ask to join it."""
    invitation = page.locator("#invite")
    expect(invitation).to_contain_text("You're invited to")
    invitation.get_by_role("button", name="Ask to join").click()


def member_page(
    open_page: OpenPage, admin: ChatClient, room_id: str, name: str, screen: dict[str, Any]
) -> Page:
    """A browser user who opens the invite link, asks, and is approved by ``admin``."""
    page = open_page(f"?room={room_id}", **screen)
    sign_in(page, name)
    ask_to_join(page)
    approve(admin, room_id)
    expect(message_box(page)).to_be_visible()
    return page


def room_entry(page: Page, name: str) -> Locator:
    return page.locator("#room-list .room-item", has_text=name)


def approve(admin: ChatClient, room_id: str) -> str:
    """The ChatClient admin approves the next request to ``room_id``; the requester's id."""
    user_id: str = admin.wait_for("joinRequest", roomId=room_id)["user"]["userId"]
    decided = admin.request(
        "joinRoom", expect="joinDecided", roomId=room_id, op="approve", userId=user_id
    )
    assert decided["status"] == "approved", decided
    return user_id


def focus_by_tab(page: Page, target: str, most: int = 20) -> None:
    """Press Tab until the element with id ``target`` has the focus."""
    for _ in range(most):
        if page.evaluate("document.activeElement && document.activeElement.id") == target:
            return
        page.keyboard.press("Tab")
    expect(page.locator(f"#{target}")).to_be_focused()


def no_horizontal_overflow(page: Page) -> None:
    sizes = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert sizes[0] <= sizes[1], f"page is {sizes[0]}px wide in a {sizes[1]}px viewport"


def hosted_room(make_client: MakeClient, host: str, name: str) -> tuple[ChatClient, str]:
    """A room created by a protocol-level user ``host``: that client, and the room id."""
    admin = make_client(host)
    return admin, str(
        admin.request("createRoom", expect="roomCreated", name=name)["room"]["roomId"]
    )


def admit_client(page: Page, guest: ChatClient, room_id: str) -> None:
    """``guest`` asks to join the room open on ``page``, whose user approves on the page."""
    guest.request("joinRoom", expect="joinRequested", roomId=room_id)
    page.get_by_role("button", name=f"Approve {guest.name}").click()
    guest.wait_for("joinDecision", roomId=room_id)


class Network:
    """The page's WebSocket, passed through a switch the test controls."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.down = False
        self.page_side: WebSocketRoute | None = None
        self.server_side: WebSocketRoute | None = None
        self.hold_replies: list[str] = []  # substrings of server frames to swallow once
        self.passed: list[str] = []  # the server frames that reached the page
        self.sent: list[str] = []  # the page's frames, in the order it sent them
        self.frames: list[tuple[str, str]] = []  # both ways, in order: ("out" | "in", text)
        self.answer: dict[
            str, Callable[[dict[str, Any]], dict[str, Any]]
        ] = {}  # action -> fake reply
        self.stalled = False  # frames go nowhere, and the socket stays open
        page.route_web_socket(re.compile(".*"), self._through)

    def _through(self, route: WebSocketRoute) -> None:
        if self.stalled:
            return  # a socket to nowhere: it opens, and nothing ever answers
        if self.down:
            route.close(code=4000, reason="network down")
            return
        server = route.connect_to_server()
        self.page_side, self.server_side = route, server

        def from_page(message: str | bytes) -> None:
            text = message if isinstance(message, str) else message.decode()
            if self.stalled:
                return
            self.sent.append(text)
            self.frames.append(("out", text))
            frame = json.loads(text)
            if frame.get("action") in self.answer:
                route.send(json.dumps(self.answer[frame["action"]](frame)))
                return
            server.send(message)

        route.on_message(from_page)

        def from_server(message: str | bytes) -> None:
            text = message if isinstance(message, str) else message.decode()
            if self.stalled:
                return
            for held in list(self.hold_replies):
                if held in text:
                    self.hold_replies.remove(held)
                    return
            self.passed.append(text)
            self.frames.append(("in", text))
            route.send(message)

        server.on_message(from_server)

    def drop(self) -> None:
        """Cut the connection at both ends, and keep new ones from opening."""
        self.down = True
        assert self.server_side is not None
        assert self.page_side is not None
        self.server_side.close(code=4000, reason="network down")
        self.page_side.close(code=4000, reason="network down")

    def restore(self) -> None:
        self.down = False
        self.stalled = False

    def stall(self) -> None:
        """A dead network the browser doesn't know of: the socket stays open, frames vanish,
        and new connections open onto nothing."""
        self.stalled = True
        self.down = True

    def inject(self, event: dict[str, Any]) -> None:
        """A frame to the page as if the server had sent it."""
        assert self.page_side is not None
        self.page_side.send(json.dumps(event))

    def outgoing(self, action: str) -> list[dict[str, Any]]:
        """The page's frames of one action, in order."""
        return [f for f in (json.loads(t) for t in self.sent) if f.get("action") == action]

    def wait_for_frame(self, part: str, timeout_s: float = 20.0) -> None:
        """Until a server frame containing ``part`` has reached the page.

        Routed frames are handled only while Playwright is called, so this polls it.
        """
        deadline = time.monotonic() + timeout_s
        while not any(part in text for text in self.passed):
            assert time.monotonic() < deadline, f"no frame with {part!r} reached the page"
            self.page.wait_for_timeout(20)


def networked_member(
    open_page: OpenPage, admin: ChatClient, room_id: str, name: str, screen: dict[str, Any]
) -> tuple[Page, Network]:
    """A member whose connection goes through a :class:`Network` the test controls."""
    page = open_page(f"?room={room_id}", **screen)
    network = Network(page)
    sign_in(page, name)
    ask_to_join(page)
    approve(admin, room_id)
    # The history asked for on approval: a message sent before it answers is in it.
    network.wait_for_frame('"type":"history"')
    return page, network
