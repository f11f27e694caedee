"""The inspector beside the chat: a room of three, one message, and what the page shows.

It also takes the screenshot the harness's README shows (``test-artifacts/inspector-chat.png``).
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, expect

from emulator.inspector.record import InvocationEntry
from emulator.inspector.server import InspectorServer
from emulator.pytest_plugin import WebSocketApi
from tests.browser.pages import TIMEOUT_MS, MakeClient, hosted_room
from tests.e2e.chat import heard, join, say
from tests.timing import settles


def test_send_message_ran_once_and_posted_to_each_member(
    browser: Browser,
    websocket_api: WebSocketApi,
    inspector: InspectorServer,
    make_client: MakeClient,
    artifacts: Path,
) -> None:
    """sendMessage to a room of three: one invocation, a post to each member; the page
    shows it with the event and the posts it made."""
    context = browser.new_context(viewport={"width": 1400, "height": 1300})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(inspector.url)
    expect(page.locator("#status")).to_have_text("Live: following the emulator.")

    admin, room_id = hosted_room(make_client, "Ada", "Design review")
    members = [make_client(name) for name in ("Grace", "Linus")]
    for member in members:
        join(admin, member, room_id)
    say(admin, room_id, "The inspector shows every frame")
    for member in members:
        assert heard(member) == "The inspector shows every frame"

    def finished() -> list[InvocationEntry]:
        return [i for i in websocket_api.invocations(route="sendMessage") if i.outcome != "running"]

    assert settles(finished)  # the sender's own ack may still be on its way
    (sent,) = finished()
    assert sent.outcome == "success"
    posts = websocket_api.calls(by=sent)
    assert sorted(c.status for c in posts if c.method == "POST") == [200, 200, 200, 200]
    assert len({c.connection_id for c in posts}) == 3

    # The page shows the session's whole history: this test's sender, this route.
    assert sent.connection_id is not None
    page.get_by_label("Connection", exact=True).select_option(sent.connection_id)
    page.get_by_label("Route").select_option("sendMessage")
    rows = page.locator("#invocations tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.locator("td:nth-child(9)")).to_have_text(str(len(sent.calls)))
    rows.get_by_role("button").click()
    detail = page.locator("#invocation-detail")
    expect(detail).to_contain_text("The inspector shows every frame")
    expect(detail).to_contain_text(f"@connections calls it made ({len(sent.calls)})")
    page.get_by_label("Route").select_option("")
    page.get_by_label("Connection", exact=True).select_option("")
    page.screenshot(path=str(artifacts / "inspector-chat.png"), full_page=True)
    context.close()
