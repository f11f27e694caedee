"""What a user does on the chat page, shared by the browser tests."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Locator, Page, expect

OpenPage = Callable[..., Page]


def sign_in(page: Page, name: str) -> None:
    page.get_by_label("Display name").fill(name)
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#connection")).to_have_text("Online")


def create_room(page: Page, name: str) -> str:
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
