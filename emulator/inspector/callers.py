"""Which worker process made an ``@connections`` request: from its TCP connection to a pid.

A worker runs one invocation at a time and keeps its HTTPS connections to
``@connections`` open between requests, so the process holding the client end of a
connection tells which invocation a request belongs to. Linux says who holds it:
``/proc/net/tcp`` gives the client socket's inode, and ``/proc/<pid>/fd`` the process
that has it open. Only the workers busy now are searched, and the answer is kept for
the connection's life (looked up once per connection, not per request); a connection
no worker holds (a test posting from its own process) is searched again only when a
worker it wasn't looked for in is busy.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Iterable
from pathlib import Path
from typing import Any

_LOOPBACK_HEX = "0100007F"  # 127.0.0.1 as /proc/net/tcp writes it


def _inode(client_port: int, server_port: int, table: Path) -> str | None:
    """The inode of the socket from 127.0.0.1:client_port to 127.0.0.1:server_port."""
    local = f"{_LOOPBACK_HEX}:{client_port:04X}"
    remote = f"{_LOOPBACK_HEX}:{server_port:04X}"
    try:
        with table.open() as lines:
            next(lines, None)  # the header
            for line in lines:
                fields = line.split()
                if len(fields) > 9 and fields[1] == local and fields[2] == remote:
                    return fields[9]
    except OSError:
        return None
    return None


def _holder(inode: str, pids: Iterable[int], proc: Path) -> int | None:
    target = f"socket:[{inode}]"
    for pid in pids:
        folder = proc / str(pid) / "fd"
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            try:
                if os.readlink(folder / name) == target:
                    return pid
            except OSError:
                continue
    return None


class Callers:
    """``find(client, pids)``: which of ``pids`` holds the TCP connection ``client``.

    ``client`` is an asyncio stream writer (or anything with ``get_extra_info``). A
    client found is kept, weakly, for the connection's life; one not found is searched
    again only when a process it wasn't looked for in is busy (a test or a script
    posting from outside the workers costs one search, not one per request). Off
    Linux, or when nothing matches: None.
    """

    def __init__(self, proc: Path = Path("/proc")) -> None:
        self._proc = proc
        # a pid, or the pids already searched in vain
        self._known: weakref.WeakKeyDictionary[Any, int | frozenset[int]] = (
            weakref.WeakKeyDictionary()
        )

    def find(self, client: object, pids: Iterable[int]) -> int | None:
        candidates = frozenset(pids)
        try:
            known = self._known.get(client)
        except TypeError:  # not weakly referenceable: look it up each time
            return self._look_up(client, candidates)
        if isinstance(known, int):
            return known
        searched = known or frozenset()
        if candidates <= searched:
            return None
        pid = self._look_up(client, candidates - searched)
        self._known[client] = pid if pid is not None else searched | candidates
        return pid

    def _look_up(self, client: object, pids: Iterable[int]) -> int | None:
        pids = list(pids)
        extra = getattr(client, "get_extra_info", None)
        if not pids or extra is None:
            return None
        peer, own = extra("peername"), extra("sockname")
        if not peer or not own or peer[0] != "127.0.0.1":
            return None
        inode = _inode(int(peer[1]), int(own[1]), self._proc / "net" / "tcp")
        if inode is None:
            return None
        return _holder(inode, pids, self._proc)
