"""A hostile web page, opened in Chromium while the chat runs locally, tries to reset the
embedded control plane and to post to (and close) a user's connection through
@connections: with fetch, a form POST, sendBeacon, and DNS rebinding. Every attempt is
refused, nothing changes, and the stack keeps serving."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from string import Template

import pytest
from playwright.sync_api import Browser, Page, Route

from emulator.harness import Harness
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.client import ChatClient
from tests.e2e.chat import create_room, say, store_for
from tests.timing import seconds, settles

# Names the browser resolves to 127.0.0.1, as an attacker's DNS would: ``evil.test`` is
# another site; ``rebound.test`` is a name rebound to loopback after its page loaded.
RESOLVER_RULES = "MAP evil.test 127.0.0.1, MAP rebound.test 127.0.0.1"
# Chromium's own Local Network Access checks would stop the rebound page (its document
# came from "the internet"); other browsers have none, so they are off: only the
# servers' checks are under test.
WITHOUT_LOCAL_NETWORK_CHECKS = (
    "--disable-features=LocalNetworkAccessChecks,BlockInsecurePrivateNetworkRequests,"
    "PrivateNetworkAccessRespectPreflightResults,PrivateNetworkAccessSendPreflights"
)

# The attacker's page: every way a page can send a request it can't read the answer of.
PAGE = Template("""<!doctype html>
<meta charset="utf-8"><title>Cute cats</title>
<iframe name="one"></iframe><iframe name="two"></iframe>
<form id="reset" method="POST" target="one" action="$control/moto-api/reset"></form>
<form id="post" method="POST" target="two" enctype="text/plain" action="$post">
  <input name="pwned" value="by a form">
</form>
<script>
const tries = {
  "fetch reset": () => fetch("$control/moto-api/reset", {method: "POST", mode: "no-cors"}),
  "cors reset": () => fetch("$control/moto-api/reset", {method: "POST"}),
  "beacon reset": async () => navigator.sendBeacon("$control/moto-api/reset", "x"),
  "fetch post": () => fetch("$post", {method: "POST", mode: "no-cors", body: "pwned by fetch"}),
  "beacon post": async () => navigator.sendBeacon("$post", "pwned by a beacon"),
  "fetch delete": () => fetch("$post", {method: "DELETE"}),
};
window.done = (async () => {
  const seen = {};
  for (const [name, attempt] of Object.entries(tries)) {
    try { const r = await attempt(); seen[name] = r && r.type ? r.type + " " + r.status : r; }
    catch (e) { seen[name] = "failed: " + e.message; }
  }
  document.getElementById("reset").submit();
  document.getElementById("post").submit();
  return seen;
})();
</script>
""")

# The page a rebound name serves first (from the attacker's server), then its requests
# go to loopback under the same origin: it may read the answers, if they are served.
REBOUND = Template("""<!doctype html>
<meta charset="utf-8"><title>Rebound</title>
<script>
window.done = (async () => {
  const seen = {};
  for (const [name, method, path] of [
    ["read all state", "GET", "/moto-api/data.json"],
    ["reset", "POST", "/moto-api/reset"],
    ["list tables", "GET", "/?Action=ListTables"],
  ]) {
    try {
      const r = await fetch(path, {method});
      seen[name] = r.status + " " + (await r.text()).slice(0, 200);
    } catch (e) { seen[name] = "failed: " + e.message; }
  }
  return seen;
})();
</script>
""")


@pytest.fixture(scope="module")
def chromium(browser: Browser) -> Iterator[Browser]:
    """A Chromium of its own (from the session's Playwright) in which the attacker's names
    resolve to loopback."""
    launched = browser.browser_type.launch(
        executable_path=CHROMIUM,
        args=[
            *CHROMIUM_ARGS,
            f"--host-resolver-rules={RESOLVER_RULES}",
            WITHOUT_LOCAL_NETWORK_CHECKS,
        ],
    )
    yield launched
    launched.close()


@pytest.fixture
def hostile_site() -> Iterator[Callable[[str], str]]:
    """Serves one page (set by the call) at ``http://evil.test:<port>/``; returns its URL."""
    pages = {"html": ""}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages["html"].encode()
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def serve(html: str) -> str:
        pages["html"] = html
        return f"http://evil.test:{server.server_address[1]}/"

    yield serve
    server.shutdown()
    server.server_close()


@pytest.fixture
def moto_api_on(stack: Harness) -> Iterator[None]:
    """/moto-api turned on, as ``serve --moto-api`` would: only the origin checks stand
    between the page and a reset of every account in the process."""
    assert stack.control_plane is not None
    guard = stack.control_plane.guard
    was, guard.moto_api = guard.moto_api, True
    yield
    guard.moto_api = was


def opened(browser: Browser, url: str, route: tuple[str, str] | None = None) -> dict[str, str]:
    """Open ``url`` in a fresh context (TLS errors ignored, so that only the servers'
    own checks stand in the way) and return what its script saw."""
    context = browser.new_context(ignore_https_errors=True)
    try:
        page: Page = context.new_page()
        page.set_default_timeout(seconds(30) * 1000)
        if route is not None:
            pattern, html = route

            def fulfil(request: Route) -> None:
                request.fulfill(status=200, content_type="text/html", body=html)

            page.route(pattern, fulfil)
        page.goto(url)
        seen: dict[str, str] = page.evaluate("window.done")
        return seen
    finally:
        context.close()


def still_serving(stack: Harness, user: ChatClient, room_id: str) -> None:
    """The room is still there and the chat still answers."""
    assert stack.target is not None
    assert stack.outputs is not None
    tables = stack.target.client("dynamodb").list_tables()["TableNames"]
    assert set(stack.outputs.tables.values()) <= set(tables)
    assert user.request("getRoom", expect="roomInfo", roomId=room_id)["type"] == "roomInfo"
    assert say(user, room_id, "still here")["type"] == "messageSent"


@pytest.mark.usefixtures("moto_api_on")
def test_a_page_on_another_site_changes_nothing(
    chromium: Browser,
    stack: Harness,
    make_client: Callable[..., ChatClient],
    hostile_site: Callable[[str], str],
) -> None:
    """fetch, sendBeacon and form POSTs to the control plane's reset and to a user's
    @connections (post and delete): all refused by the servers, the user receives nothing
    and stays connected, the stack keeps serving."""
    assert stack.control_plane is not None
    assert stack.gateway is not None
    user = make_client("Ann")
    room_id = create_room(user, "Kept")
    (connection,) = store_for(stack).open_connections(user.user_id)
    control, connections = stack.control_plane.guard.refusals, stack.gateway.connections_api
    refused_before = (control.count, connections.refusals.count)
    target = f"{stack.gateway.local_management_endpoint}/@connections/{connection.connection_id}"
    page = PAGE.substitute(control=stack.control_plane_url, post=target)
    seen = opened(chromium, hostile_site(page))
    # Four requests reach each server (fetch, beacon, the form; a preflight for the reset's
    # CORS fetch and for DELETE): each is refused there, not by the browser.
    assert settles(lambda: control.count - refused_before[0] >= 4, timeout=30), seen
    assert settles(lambda: connections.refusals.count - refused_before[1] >= 4, timeout=30), seen
    assert not seen["fetch delete"].startswith("cors 2"), seen
    assert all("pwned" not in str(event) for event in user.listen())
    still_serving(stack, user, room_id)


@pytest.mark.usefixtures("moto_api_on")
def test_a_rebound_name_reads_and_resets_nothing(
    chromium: Browser, stack: Harness, make_client: Callable[..., ChatClient]
) -> None:
    """A page whose name is rebound to the control plane's address reads nothing and
    resets nothing: the Host it sends is not the one the harness handed out."""
    assert stack.control_plane is not None
    user = make_client("Bo")
    room_id = create_room(user, "Kept too")
    port = stack.control_plane_url.rsplit(":", 1)[1]
    origin = f"http://rebound.test:{port}"
    seen = opened(chromium, f"{origin}/", route=(f"{origin}/", REBOUND.template))
    for name, answer in seen.items():
        assert answer.startswith("403 "), (name, answer)
        assert "does not answer to the host" in answer
    still_serving(stack, user, room_id)
