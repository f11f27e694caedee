"""Which requests to the harness's own HTTP servers come from a web page, and are refused.

A server on loopback is out of reach of other machines, not of the browser: any page the
user opens can send it requests (a form POST, ``fetch`` in ``no-cors`` mode,
``navigator.sendBeacon``) without reading the answers, and with DNS rebinding (a name of
the attacker's that resolves to 127.0.0.1) even read them. The embedded control plane
(moto's server: it would let a page reset every account) and ``@connections`` are meant
for programs (boto3, the functions), never for pages, so:

- the ``Host`` header must name the address and port the harness handed out (or a name
  it gave the server, such as the API's ``execute-api`` host): a rebound name is refused;
- a request whose ``Origin`` is another origin than the server's own, or ``null``, is
  refused: browsers send ``Origin`` with every POST and every cross-origin request;
- a request whose ``Sec-Fetch-Site`` is ``cross-site`` or ``same-site`` is refused
  (another port on 127.0.0.1 is the same site but another origin).

Programs send neither header, so they are not affected. :func:`refusal` only decides;
the servers answer 403 with the reason, send no CORS headers at all, and count what
they refused (:class:`Refusals`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Mapping

# What Sec-Fetch-Site says when the user typed the address or the page is the server's own.
_OWN_FETCH_SITES = frozenset({"none", "same-origin"})


def refusal(
    headers: Mapping[str, str], hosts: Collection[str], origins: Collection[str] = ()
) -> str | None:
    """Why a request with these headers (names in lower case) is refused; None: serve it.

    ``hosts``: the ``Host`` values this server answers to (``127.0.0.1:8000``, in lower
    case); ``origins``: the origins whose pages may call it (``http://127.0.0.1:8000``).
    """
    host = headers.get("host", "").strip().lower()
    if host not in hosts:
        return f"this server does not answer to the host {host or '(none)'!r}"
    origin = headers.get("origin")
    if origin is not None and origin.strip().lower() not in origins:
        return f"requests from web pages on {origin.strip()!r} are refused"
    site = headers.get("sec-fetch-site")
    if site is not None and site.strip().lower() not in _OWN_FETCH_SITES:
        return f"requests from web pages on another site ({site.strip()}) are refused"
    return None


def local_hosts(port: int) -> frozenset[str]:
    """The ``Host`` values of a loopback server on ``port``."""
    return frozenset({f"127.0.0.1:{port}", f"localhost:{port}"})


def local_origins(scheme: str, port: int) -> frozenset[str]:
    """The origins of a loopback server's own pages."""
    return frozenset(f"{scheme}://{host}" for host in local_hosts(port))


def is_cors_header(name: str) -> bool:
    """A response header that would let another origin's page read the answer."""
    return name.lower().startswith("access-control-")


class Refusals:
    """Counts a server's refused requests; says on the terminal the first for each reason
    (a page that keeps trying doesn't flood it). Safe to use from several threads."""

    def __init__(self, server: str, log: logging.Logger) -> None:
        self.server = server
        self.count = 0
        self._log = log
        self._said: set[str] = set()
        self._lock = threading.Lock()

    def record(self, reason: str, request: str) -> None:
        with self._lock:
            self.count += 1
            first = reason not in self._said
            self._said.add(reason)
        if first:
            self._log.warning("%s refused %s: %s", self.server, request, reason)
