"""A Node.js worker under ``serve --debug-port``: whether it is paused in a debugger.

``node --inspect`` takes several Chrome DevTools Protocol sessions at once. Beside the
user's debugger, the runner holds one of its own (:class:`PauseWatch`): it enables the
``Debugger`` domain with breakpoints inactive, so it never stops the worker itself (a
``debugger;`` statement stops it only while a user's debugger is attached, as without
the watch), and it hears ``Debugger.paused`` and ``Debugger.resumed`` for the user's
pauses. The worker's invocation then runs its timeout only while not paused.

When the user's debugger disconnects while paused, node resumes the worker (the watch's
session doesn't hold it), and the watch hears ``Debugger.resumed`` as for any resume.
"""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.request
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

log = logging.getLogger("emulator.lambda")

CONNECT_SECONDS = 30  # for node to listen, once started


def _target_url(host: str, port: int) -> str | None:
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/json/list", timeout=2) as answer:
            targets = json.loads(answer.read())
    except (OSError, ValueError):
        return None
    for target in targets:
        if isinstance(target, dict) and target.get("webSocketDebuggerUrl"):
            return str(target["webSocketDebuggerUrl"])
    return None


class PauseWatch:
    """The runner's own session with one Node.js worker's inspector (see the module)."""

    def __init__(self, host: str, port: int) -> None:
        self._host = host
        self._port = port
        self._paused_since: float | None = None
        self._paused_before = 0.0  # seconds paused, pauses that ended
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._ids = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    @property
    def paused(self) -> bool:
        return self._paused_since is not None

    def paused_for(self) -> float:
        """Seconds paused since the watch began (the current pause included)."""
        now = asyncio.get_running_loop().time()
        current = now - self._paused_since if self._paused_since is not None else 0.0
        return self._paused_before + current

    async def changed(self) -> None:
        """Until the worker pauses or resumes."""
        await self._changed.wait()

    def _set(self, paused: bool) -> None:
        now = asyncio.get_running_loop().time()
        if paused and self._paused_since is None:
            self._paused_since = now
        elif not paused and self._paused_since is not None:
            self._paused_before += now - self._paused_since
            self._paused_since = None
        else:
            return
        self._changed.set()
        self._changed = asyncio.Event()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CONNECT_SECONDS
        url = None
        while url is None and loop.time() < deadline:
            url = await asyncio.to_thread(_target_url, self._host, self._port)
            if url is None:
                await asyncio.sleep(0.1)
        if url is None:
            log.warning("the Node.js inspector on port %d didn't answer", self._port)
            return
        try:
            async with connect(url, max_size=None) as session:
                await self._command(session, "Debugger.enable")
                await self._command(session, "Debugger.setBreakpointsActive", active=False)
                await self._follow(session)
        except (OSError, WebSocketException):
            pass  # the worker ended
        finally:
            self._set(False)

    async def _command(self, session: ClientConnection, method: str, **params: Any) -> None:
        self._ids += 1
        await session.send(json.dumps({"id": self._ids, "method": method, "params": params}))

    async def _follow(self, session: ClientConnection) -> None:
        async for text in session:
            method = json.loads(text).get("method")
            if method == "Debugger.paused":
                self._set(True)
            elif method == "Debugger.resumed":
                self._set(False)
