"""The embedded AWS control plane: moto's server, with an account of its own per harness.

moto keeps its state per AWS account, and picks the account by the caller's access
key. So each :meth:`ControlPlane.new_account` makes a fresh account with a key of
its own: two harnesses (or two tests) in one process never see each other's
tables, functions or APIs, whether or not they share the server.

moto's server answers anyone, checks no signature and sends CORS headers for every
origin; it also has ``/moto-api`` (reset every account, and more). So it listens on
loopback only, and :class:`Guard` stands in front of it:

- requests from web pages are refused (:mod:`emulator.origins`: the ``Host`` must be the
  address it was given, no foreign ``Origin`` or ``Sec-Fetch-Site``), and no response
  carries a CORS header;
- ``/moto-api`` answers 404 unless the control plane was started with ``moto_api``;
- DynamoDB requests run one at a time (:mod:`emulator.moto_dynamodb`);
- a request moto fails on gets a 500 (so the SDK retries) with its traceback written to
  the control plane's log file and one line on the terminal, never the traceback.

Connections stay open between requests (:mod:`emulator.controlplane_http`).

API Gateway v1 and v2 share a hostname and a signing name, and moto serves both from its
v1 module, whose import (an OpenAPI validator, pydantic) is the slowest part of
deploying a WebSocket API: :class:`_Dispatcher` hands ``/v2/`` requests to moto's v2
module alone, so v1 is imported only if something calls it.
"""

from __future__ import annotations

import json
import logging
import secrets
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from wsgiref.types import WSGIApplication

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from emulator import moto_dynamodb, moto_startup, origins
from emulator.controlplane_http import KeepAliveServer
from emulator.controlplane_local import InProcess
from emulator.targets import EMULATOR_CREDENTIALS, Target, new_session

log = logging.getLogger("emulator.controlplane")

LOOPBACK = "127.0.0.1"
LOG_NAME = "control-plane.log"
_ACCOUNT_HEADER = "x-moto-account-id"  # moto's way to act as a given account
_MOTO_API = "/moto-api"

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def new_account_id() -> str:
    """A random account id, never moto's default 123456789012."""
    return f"{secrets.randbelow(9 * 10**11) + 10**11:012d}"


def _reply(
    start_response: StartResponse, status: str, body: dict[str, Any], failed: bool = False
) -> list[bytes]:
    """A JSON answer of the guard's own; ``failed`` while handling moto's exception."""
    data = json.dumps(body).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    if failed:  # WSGI: an answer in place of whatever moto may have started
        start_response(status, headers, sys.exc_info())
    else:
        start_response(status, headers)
    return [data]


class Guard:
    """WSGI middleware in front of moto's application (see the module's docstring).

    ``hosts`` (and the origins of the server's own pages) are set once the port is known.
    """

    def __init__(self, app: WsgiApp, log_path: Path, moto_api: bool = False) -> None:
        self.app = app
        self.log_path = log_path
        self.moto_api = moto_api
        self.hosts: frozenset[str] = frozenset()
        self.origins: frozenset[str] = frozenset()
        self.refusals = origins.Refusals("the embedded control plane", log)
        self._log_lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        headers = {
            name: str(environ[key])
            for name, key in (
                ("host", "HTTP_HOST"),
                ("origin", "HTTP_ORIGIN"),
                ("sec-fetch-site", "HTTP_SEC_FETCH_SITE"),
            )
            if key in environ
        }
        path = str(environ.get("PATH_INFO", ""))
        refused = origins.refusal(headers, self.hosts, self.origins)
        if refused is not None:
            self.refusals.record(refused, f"{environ.get('REQUEST_METHOD')} {path}")
            return _reply(start_response, "403 Forbidden", {"message": refused})
        if not self.moto_api and (path == _MOTO_API or path.startswith(_MOTO_API + "/")):
            message = "moto's /moto-api is off (serve --moto-api turns it on)"
            return _reply(start_response, "404 Not Found", {"message": message})

        def without_cors(status: str, response_headers: list[tuple[str, str]], *rest: Any) -> Any:
            kept = [(k, v) for k, v in response_headers if not origins.is_cors_header(k)]
            return start_response(status, kept, *rest)

        # DynamoDB's models can't be read and written at once, and /moto-api reads (and
        # resets) them all.
        serialised = path.startswith(_MOTO_API) or moto_dynamodb.is_dynamodb_request(
            environ.get("HTTP_X_AMZ_TARGET")
        )
        try:
            if serialised:
                with moto_dynamodb.LOCK:
                    return self._answer(environ, without_cors)
            return self._answer(environ, without_cors)
        except Exception as exc:
            self._record(environ, exc)
            body = {"__type": "InternalFailure", "message": f"{type(exc).__name__}: {exc}"}
            return _reply(start_response, "500 Internal Server Error", body, failed=True)

    def _answer(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        """moto's whole answer, read while still holding whatever lock the caller holds."""
        result = self.app(environ, start_response)
        try:
            return [b"".join(result)]
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()

    def _record(self, environ: dict[str, Any], exc: Exception) -> None:
        what = environ.get("HTTP_X_AMZ_TARGET") or (
            f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')}"
        )
        stamp = datetime.now(UTC).isoformat(timespec="milliseconds")
        with self._log_lock, self.log_path.open("a") as file:
            file.write(f"{stamp} {what} failed:\n{''.join(traceback.format_exception(exc))}\n")
        log.warning(
            "the embedded control plane failed a request (%s): %s: %s; details in %s",
            what,
            type(exc).__name__,
            exc,
            self.log_path,
        )


class _Dispatcher(DomainDispatcherApplication):
    """moto's dispatcher, with API Gateway v2 requests served by its own module, and the
    first request of each service served alone.

    moto fills its caches of a service (its model read from disk, the router of a REST
    service) on the service's first request, in ``functools.cache`` functions that don't
    lock: a deploy's parallel look-ups (:data:`emulator.deploy.executor.LOOKUPS_AT_ONCE`)
    each filled them again, the chat's seven functions seven times. Requests that
    arrive during a service's first wait for it, then go on in parallel.
    """

    def __init__(self, create_app: Callable[[Any], Any]) -> None:
        super().__init__(create_app)
        self._served: set[int] = set()  # the services (their apps) past their first request
        self._firsts: dict[int, threading.Lock] = {}

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Any:
        app = self.get_application(environ)
        if id(app) in self._served:
            return app(environ, start_response)
        with self.lock:
            first = self._firsts.setdefault(id(app), threading.Lock())
        with first:
            try:
                return app(environ, start_response)
            finally:
                self._served.add(id(app))

    def get_application(self, environ: dict[str, Any]) -> Any:
        scope = str(environ.get("HTTP_AUTHORIZATION", "")).split("/")
        if str(environ.get("PATH_INFO", "")).startswith("/v2/") and scope[3:4] == ["apigateway"]:
            with self.lock:
                app = self.app_instances.get("apigatewayv2")
                if app is None:
                    app = self.app_instances["apigatewayv2"] = self.create_app("apigatewayv2")
                return app
        return super().get_application(environ)


class _GuardedMotoServer(ThreadedMotoServer):
    """moto's threaded server with :class:`Guard` in front of its application."""

    def __init__(self, port: int, guard: Guard) -> None:
        super().__init__(ip_address=LOOPBACK, port=port, verbose=False)
        self.guard = guard

    def _server_entry(self) -> None:
        self.guard.app = _Dispatcher(create_backend_app)
        # Bound before the guard knows its port: until then it answers no host at all.
        self._server = KeepAliveServer(self._ip_address, self._port, self.guard)
        port = int(self._server.server_address[1])
        self.guard.hosts = origins.local_hosts(port)
        self.guard.origins = origins.local_origins("http", port)
        self._server_ready_event.set()
        self._server.serve_forever()


class ControlPlane:
    """moto's server on loopback; ``port`` 0 picks a free one.

    ``moto_api`` turns moto's ``/moto-api`` routes on (reset, seeding, its dashboard);
    failed requests are described in ``log_dir``/control-plane.log (a temporary folder
    when None).
    """

    def __init__(self, port: int = 0, moto_api: bool = False, log_dir: Path | None = None) -> None:
        self._log_dir = None if log_dir else tempfile.TemporaryDirectory(prefix="ws-emulator-moto-")
        directory = log_dir or Path(self._log_dir.name)  # type: ignore[union-attr]
        # Always loopback: it answers anyone without checking signatures.
        self.guard = Guard(lambda environ, start: [], directory / LOG_NAME, moto_api)
        self._server = _GuardedMotoServer(port, self.guard)
        self._started = False

    @property
    def log_path(self) -> Path:
        return self.guard.log_path

    def start(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        moto_dynamodb.install()
        moto_startup.install()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._server.start()
        self._started = True

    @property
    def url(self) -> str:
        host, port = self._server.get_host_and_port()
        return f"http://{host}:{port}"

    def new_account(self, region: str, account_id: str | None = None) -> Target:
        """A target in a new, empty account of this server (a random id by default)."""
        account_id = account_id or new_account_id()
        session = new_session(region_name=region, **EMULATOR_CREDENTIALS)
        iam = session.client("iam", endpoint_url=self.url)

        def act_as_account(request: Any, **_: Any) -> None:
            request.headers[_ACCOUNT_HEADER] = account_id

        transport = InProcess(self._app)
        iam.meta.events.register("before-send.iam", act_as_account)
        transport.attach(iam)
        iam.create_user(UserName="emulator")
        key = iam.create_access_key(UserName="emulator")["AccessKey"]
        credentials = (key["AccessKeyId"], key["SecretAccessKey"])
        return Target.local(
            self.url, region, credentials, account=account_id, transport=transport.attach
        )

    def _app(self) -> WsgiApp:
        """The server's WSGI application as it is now (with any middleware added since)."""
        server = self._server._server
        assert server is not None, "start the control plane first"
        return server.app

    def add_middleware(self, wrap: Callable[[WSGIApplication], WSGIApplication]) -> None:
        """Put ``wrap(app)`` in front of the server's WSGI application (once started)."""
        server = self._server._server
        assert server is not None, "start the control plane first"
        server.app = wrap(server.app)

    def stop(self) -> None:
        if self._started:
            self._server.stop()
            self._started = False
        if self._log_dir is not None:
            self._log_dir.cleanup()
