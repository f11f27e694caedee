"""The API Gateway WebSocket data plane: the server, its open connections, their workers.

Built on the ``websockets`` library's asyncio server. The upgrade waits for
``$connect`` (a non-2xx result refuses it with that status; :mod:`emulator.handshake`);
each frame is routed by the API's selection expression and handed to the route's
function (:mod:`emulator.routing`); the end of a connection, however it ends, is
reported to ``$disconnect`` with its close status. ``@connections`` is served beside it
by :mod:`emulator.connections`, with this gateway as its backend.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from emulator import events, handshake, routing
from emulator.api import ApiConfig
from emulator.connections import ConnectionsApi, Gone, LimitExceeded
from emulator.inspector.observer import Observer
from emulator.quotas import Limits as Limits
from emulator.quotas import TokenBucket
from emulator.routing import Dropped, now_ms
from emulator.runner import MAX_WORKERS_PER_FUNCTION, LambdaRunner
from emulator.scheduler import FairScheduler
from emulator.session import ClientConnection, OutboxFull, Session
from emulator.tls import Certificates, execute_api_host

log = logging.getLogger("emulator.gateway")

GOING_AWAY = 1001
UNSUPPORTED_DATA = 1003  # API Gateway's answer to a binary frame
INTEGRATION_TIMEOUT = 29  # seconds API Gateway waits for any integration
LOOPBACK = "127.0.0.1"


def _iso(epoch_ms: int) -> str:
    stamp = datetime.fromtimestamp(epoch_ms / 1000, UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


class Gateway:
    """One WebSocket API stage on ``ws://host:port/{stage}``.

    ``@connections`` listens on loopback only (``connections_port``; 0 picks one):
    functions reach it by the API's AWS hostname, which their workers resolve there.
    """

    def __init__(
        self,
        stage: str,
        region: str,
        certificates: Certificates,
        host: str = LOOPBACK,
        port: int = 0,
        limits: Limits | None = None,
        connections_port: int = 0,
        post_latency: float = 0.0,
        workers: int = MAX_WORKERS_PER_FUNCTION,
    ) -> None:
        self.stage = stage
        self.region = region
        self.host = host
        self.limits = limits or Limits()
        self._port = port
        self._connections_port = connections_port
        self.post_latency = post_latency  # seconds each @connections request takes
        self.certificates = certificates
        self._api: ApiConfig | None = None
        self._hosts: frozenset[str] = frozenset()  # the API's execute-api name, once served
        self._runner: LambdaRunner | None = None
        self._server: Server | None = None
        self._connections_api: ConnectionsApi | None = None
        self.observer: Observer | None = None  # told of connections and frames (the inspector)
        self._open: dict[str, Session] = {}
        self._sessions: set[asyncio.Task[Any]] = set()  # each connection's, until $disconnect ran
        self._buckets: dict[str, TokenBucket] = {}  # route key -> its stage throttle
        # Each function's workers, shared fairly by connection (the runner has as many).
        self.scheduler = FairScheduler(workers)
        self._stopping = False
        # Per upgrade in progress; weak, so an upgrade that never completes leaves nothing.
        self._handshakes: weakref.WeakKeyDictionary[ServerConnection, handshake.Accepted] = (
            weakref.WeakKeyDictionary()
        )

    # --- lifecycle -----------------------------------------------------------------

    async def start(self) -> None:
        """Listen; until :meth:`serve` is called, upgrades are refused with 503."""
        self._connections_api = ConnectionsApi(
            self,
            self.stage,
            self.certificates,
            LOOPBACK,
            self._connections_port,
            self.post_latency,
        )
        self._connections_api.observer = self.observer
        await self._connections_api.start()
        self._server = await serve(
            self._session,
            self.host,
            self._port,
            create_connection=ClientConnection,
            process_request=self._handshake,
            select_subprotocol=self._select_subprotocol,
            max_size=(self.limits.message_bytes, self.limits.frame_bytes),
            # The upgrade waits for the authorizer and $connect: API Gateway gives an
            # integration 29 s, so the handshake may take that long.
            open_timeout=INTEGRATION_TIMEOUT + 5,
            ping_interval=None,  # API Gateway doesn't ping; clients may
        )

    def serve(self, api: ApiConfig, runner: LambdaRunner) -> None:
        self._api = api
        self._hosts = frozenset({self.domain_name.lower()})
        self._runner = runner
        # A route whose limits stay keeps its bucket, and the tokens already spent.
        buckets = {}
        for key, route in api.routes.items():
            limits = route.throttle
            if limits is None:
                continue
            bucket = self._buckets.get(key)
            if bucket is None or (bucket.burst, bucket.rate) != (limits.burst, limits.rate):
                bucket = TokenBucket(limits.burst, limits.rate)
            buckets[key] = bucket
        self._buckets = buckets

    async def stop(self) -> None:
        self._stopping = True  # frames still waiting for a worker are dropped, not run
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        if self._connections_api is not None:
            await self._connections_api.stop()

    def refill_throttles(self) -> None:
        """Every throttled route starts again with a full bucket."""
        self._buckets = {}
        if self._api is not None and self._runner is not None:
            self.serve(self._api, self._runner)

    async def close_all(self) -> int:
        """Close every open connection (1001, "Going away") and wait until each one's
        ``$disconnect`` has run; returns how many connections were closed."""
        closed = 0
        while self._open or self._sessions:
            for connection in list(self._open.values()):
                connection.closed_by_server = (GOING_AWAY, "Going away")
                closed += 1
                await connection.socket.close(GOING_AWAY, "Going away")
            await asyncio.gather(*self._sessions, return_exceptions=True)
        return closed

    @property
    def max_body(self) -> int:
        """The largest @connections POST body accepted."""
        return self.limits.message_bytes

    @property
    def hosts(self) -> frozenset[str]:
        """The names functions reach ``@connections`` by (none until :meth:`serve`)."""
        return self._hosts

    @property
    def port(self) -> int:
        assert self._server is not None, "start() first"
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}/{self.stage}"

    @property
    def connections_port(self) -> int:
        return self.connections_api.port

    @property
    def connections_api(self) -> ConnectionsApi:
        assert self._connections_api is not None, "start() first"
        return self._connections_api

    @property
    def domain_name(self) -> str:
        """What events carry, as on AWS: ``{apiId}.execute-api.{region}.amazonaws.com``."""
        assert self._api is not None, "serve() first"
        return execute_api_host(self._api.api_id, self.region)

    @property
    def management_endpoint(self) -> str:
        """``https://{domainName}/{stage}``: where functions reach ``@connections``."""
        return f"https://{self.domain_name}/{self.stage}"

    @property
    def local_management_endpoint(self) -> str:
        """The same API from outside the workers (tests, tools): ``https://localhost:…``."""
        return f"https://localhost:{self.connections_port}/{self.stage}"

    # --- handshake ---------------------------------------------------------------

    async def _handshake(self, connection: ServerConnection, request: Request) -> Response | None:
        if self._api is None or self._runner is None:
            return connection.respond(
                HTTPStatus.SERVICE_UNAVAILABLE, "The API is not deployed yet\n"
            )
        decision = await handshake.accept(
            connection,
            request,
            self._api,
            self.stage,
            self.domain_name,
            self._runner.functions,
            self._buckets,
            self._invoke,
        )
        if isinstance(decision, Response):
            return decision
        self._handshakes[connection] = decision
        return None

    def _select_subprotocol(
        self, connection: ServerConnection, offered: Sequence[Subprotocol]
    ) -> Subprotocol | None:
        """Echo a subprotocol only when ``$connect`` returned it, as API Gateway does."""
        _, chosen = self._handshakes.get(connection, (None, None))
        return Subprotocol(chosen) if chosen is not None and chosen in offered else None

    # --- the open connection ---------------------------------------------------------

    async def _invoke(
        self,
        function: str,
        event: dict[str, Any],
        request_id: str,
        connection_id: str,
        droppable: bool = False,
    ) -> Any:
        """Run ``function`` when the connection's turn for one of its workers comes;
        a ``droppable`` invocation (a message's) raises Dropped if the gateway is
        stopping by then, so that Ctrl-C doesn't wait for every queued frame."""
        assert self._runner is not None
        async with self.scheduler.turn(function, connection_id):
            if droppable and self._stopping:
                raise Dropped(function)
            return await self._runner.invoke(function, event, request_id)

    async def _session(self, socket: ServerConnection) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._sessions.add(task)
        try:
            await self._converse(socket)
        finally:
            self._sessions.discard(task)

    async def _converse(self, socket: ServerConnection) -> None:
        info, _ = self._handshakes.pop(socket)
        connection = Session(info, socket, last_active_ms=now_ms(), limits=self.limits)
        self._open[info.connection_id] = connection
        if self.observer is not None:
            self.observer.connected(info)
        writer = asyncio.create_task(connection.outbox.drain(socket))
        loop = asyncio.get_running_loop()
        end_of_life = loop.time() + self.limits.lifetime
        try:
            while True:
                try:
                    # Its frames in flight, or what it hasn't read, fill its share: the
                    # next frame waits in the client's buffers (never idle meanwhile).
                    if not connection.has_room():
                        await asyncio.wait_for(connection.room(), end_of_life - loop.time())
                    wait = min(self.limits.idle_timeout, end_of_life - loop.time())
                    # A timeout on this task, not wait_for's task per frame (Python 3.11).
                    async with asyncio.timeout(max(wait, 0)):
                        frame = await socket.recv()
                except TimeoutError:
                    connection.closed_by_server = (GOING_AWAY, "Going away")
                    await socket.close(GOING_AWAY, "Going away")
                    break
                connection.last_active_ms = now_ms()
                if isinstance(frame, bytes):
                    # API Gateway takes no binary frames: it closes with 1003.
                    reason = "Binary frames are not supported"
                    connection.closed_by_server = (UNSUPPORTED_DATA, reason)
                    await socket.close(UNSUPPORTED_DATA, reason)
                    break
                connection.run(self._dispatch(connection, frame), len(frame))
        except ConnectionClosed:
            pass
        finally:
            self._open.pop(info.connection_id, None)
            writer.cancel()
            if connection.tasks:
                await asyncio.gather(*connection.tasks, return_exceptions=True)
            assert self._api is not None
            await routing.disconnected(connection, self._api, self._invoke, self.observer)

    async def _dispatch(self, connection: Session, frame: str) -> None:
        """Route one frame; whatever goes wrong, the client hears back and the log says."""
        assert self._api is not None
        try:
            droppable = partial(self._invoke, droppable=True)
            await routing.route_frame(
                connection, frame, self._api, self._buckets, droppable, self.observer
            )
        except Exception:
            log.exception("a frame from %s could not be routed", connection.info.connection_id)
            routing.reply_error(
                connection, "Internal server error", events.new_request_id(), self.observer
            )

    # --- the @connections backend --------------------------------------------------

    def _open_connection(self, connection_id: str) -> Session:
        connection = self._open.get(connection_id)
        if connection is None:
            raise Gone(connection_id)
        return connection

    def post(self, connection_id: str, data: bytes) -> None:
        connection = self._open_connection(connection_id)
        try:
            data.decode("utf-8")
            text = True
        except UnicodeDecodeError:
            text = False
        try:
            connection.outbox.put(data, text)
        except OutboxFull as exc:
            raise LimitExceeded(str(exc)) from exc
        if self.observer is not None:
            self.observer.frame_out(connection_id, data, "post")

    def describe(self, connection_id: str) -> dict[str, Any]:
        connection = self._open_connection(connection_id)
        info = connection.info
        return {
            "connectedAt": _iso(info.connected_at),
            "lastActiveAt": _iso(connection.last_active_ms),
            "identity": {"sourceIp": info.source_ip, "userAgent": info.user_agent or ""},
        }

    def receive(self, connection_id: str, frame: str) -> None:
        """Take ``frame`` as if that connection's client sent it (the inspector's action)."""
        connection = self._open_connection(connection_id)
        connection.last_active_ms = now_ms()
        task = asyncio.create_task(self._dispatch(connection, frame))
        connection.tasks.add(task)
        task.add_done_callback(connection.tasks.discard)

    async def close(self, connection_id: str) -> None:
        connection = self._open_connection(connection_id)
        reason = "Connection closed by the @connections API"
        connection.closed_by_server = (1000, reason)
        await connection.socket.close(1000, reason)
