"""``serve --host 0.0.0.0``: the website tells each browser an address it can reach."""

from __future__ import annotations

import json
import re
import socket
import urllib.request

from tests import served
from tests.client import ChatClient
from tests.timing import seconds


def websocket_url(config_url: str, host: str | None = None) -> str:
    """The WebSocket URL the client's config.js names, fetched as a browser would."""
    request = urllib.request.Request(config_url, headers={"Host": host} if host else {})
    with urllib.request.urlopen(request, timeout=seconds(10)) as response:
        text = response.read().decode()
    found = re.fullmatch(r"window\.\w+ = (?P<config>.*);\n", text)
    assert found is not None, text
    return str(json.loads(found["config"])["websocketUrl"])


def outward_addresses() -> list[str]:
    """This machine's address on its network, if it has one (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("198.51.100.1", 9))  # a documentation address, via the default route
        except OSError:  # no network: loopback only
            return []
        return [str(probe.getsockname()[0])]


def test_config_js_names_the_host_the_page_was_loaded_from() -> None:
    """Served on every interface, config.js names the host the browser asked for (not
    0.0.0.0): from this machine and from another one, the chat connects there."""
    with served.serving("scripts.stack:CHAT", "--host", "0.0.0.0") as running:
        website = running.wait_for(r"Website\s+http://0\.0\.0\.0:(?P<port>\d+)/")["port"]
        stage = running.wait_for(r"WebSocket API\s+ws://0\.0\.0\.0:(?P<port>\d+)/(?P<stage>\S+)")
        for address in ["127.0.0.1", *outward_addresses()]:
            url = websocket_url(f"http://{address}:{website}/config.js")
            assert url == f"ws://{address}:{stage['port']}/{stage['stage']}"
            ChatClient(url, "Alice").close()  # it answers there
        named = websocket_url(f"http://127.0.0.1:{website}/config.js", f"chat.example:{website}")
        assert named == f"ws://chat.example:{stage['port']}/{stage['stage']}"
