"""What the page shows at the limits (issue 13): look-alike names told apart, and a
request the server refused for its rate."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.browser.pages import (
    DESKTOP,
    SCREENS,
    MakeClient,
    OpenPage,
    create_room,
    send,
    sign_in,
)
from tests.conftest import LIMITED, SMALL_LIMITS


@SCREENS
def test_two_members_with_one_name_are_told_apart(
    open_page: OpenPage, make_client: MakeClient, screen: dict[str, Any]
) -> None:
    """Two users both called Sam: their requests, list entries and messages each carry
    the start of their own user id, so the admin can tell which is which."""
    page = open_page(**screen)
    sign_in(page, "Host")
    room_id = create_room(page, "Twins")
    sams = [make_client("Sam"), make_client("Sam")]
    for sam in sams:
        sam.request("joinRoom", expect="joinRequested", roomId=room_id)
    labels = [f"Sam #{sam.user_id[1:5]}" for sam in sams]
    for shown, sam in zip(labels, sams, strict=True):
        page.get_by_role("button", name=f"Approve {shown}").click()
        sam.wait_for("joinDecision", roomId=room_id)
    members = page.locator("#member-list .name")
    for shown in labels:
        expect(members.filter(has_text=shown)).to_have_count(1)
    sams[1].request("sendMessage", expect="messageSent", roomId=room_id, text="it's me")
    expect(page.locator("#messages .message .author").last).to_have_text(labels[1])


@LIMITED
def test_sending_too_fast_waits_for_the_rate_and_loses_nothing(open_page: OpenPage) -> None:
    """Past the connection's rate, messages wait for the server's window with the reason
    shown, none fails, and all arrive in the order written."""
    page = open_page(**DESKTOP)
    sign_in(page, "Hasty")
    create_room(page, "Fast")
    texts = [f"quick {i:02d}" for i in range(SMALL_LIMITS["rate_per_connection"] + 3)]
    for text in texts:
        send(page, text)
    held = page.locator("#messages .message.mine .state", has_text="asked us to slow down")
    expect(held.first).to_be_visible(timeout=30_000)
    expect(page.locator("#messages .message.failed")).to_have_count(0)
    # The rest go in the next window of the limited stack (60 s): within two of them.
    expect(page.locator("#messages .message.mine .state")).to_have_count(0, timeout=150_000)
    expect(page.locator("#messages .message.mine .bubble")).to_have_text(texts)
    page.reload()  # as stored: the same order
    expect(page.locator("#messages .message.mine .bubble")).to_have_text(texts)
