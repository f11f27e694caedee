"""What the page shows at the limits (issue 13): look-alike names told apart, and a
request the server refused for its rate."""

from __future__ import annotations

import re
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
def test_sending_too_fast_says_so_and_offers_retry(open_page: OpenPage) -> None:
    """Past the connection's rate, messages are shown as not sent, with the reason and
    Retry, rather than vanishing."""
    page = open_page(**DESKTOP)
    sign_in(page, "Hasty")
    create_room(page, "Fast")
    for i in range(SMALL_LIMITS["rate_per_connection"] + 3):
        send(page, f"quick {i}")
    refused = page.locator("#messages .message.failed").first
    expect(refused).to_contain_text(re.compile(r"sending faster than the server takes"))
    expect(refused.get_by_role("button", name="Retry sending")).to_be_visible()
