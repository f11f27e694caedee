"""Cost per message: the chat's own handlers, metered call by call, priced at AWS's rates.

    python -m bench.cost     # or `make cost`; `make bench` runs it too

The handlers run in this process (as in a Lambda container) against moto's server in
another process; their posts go over HTTPS to a server that answers 200. A
:class:`~bench.meter.Meter` on boto3's default session counts every call. A room of
10 is built through the handlers themselves (every action counted); rooms of 100
and 1,000 are written straight to the tables, then ``sendMessage`` is measured.

Lambda duration is modelled, not measured on AWS: the handler's CPU time here,
scaled to the function's share of a vCPU (Lambda gives 1 vCPU at 1,769 MB), plus
5 ms per DynamoDB call and 15 ms per round of concurrent posts. The model and the
prices are stated in the report beside the figures.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from bench import bound, processes
from bench.meter import Meter, Window
from emulator import events
from emulator.deploy import Deployer, Report
from emulator.events import ConnectionInfo
from emulator.targets import EMULATOR_CREDENTIALS, Target
from scripts.stack import FUNCTIONS, chat_stack

ROOMS = (10, 100, 1000)
MESSAGES = 3  # sendMessage calls measured per room
TEXT = "a chat message of about sixty characters, as people write them"
REGION = "us-east-1"
STAGE = "cost"


@dataclass(frozen=True)
class Prices:
    """us-east-1 list prices (see the report for where each comes from and when)."""

    lambda_request: float = 0.20 / 1e6
    lambda_gb_second: float = 0.0000166667
    read_unit: float = 0.125 / 1e6  # on-demand read request unit
    write_unit: float = 0.625 / 1e6  # on-demand write request unit
    websocket_message: float = 1.00 / 1e6  # per 32 KB, sent or received
    connection_minute: float = 0.25 / 1e6


@dataclass(frozen=True)
class Model:
    """How a local invocation becomes a billed Lambda duration."""

    full_vcpu_mb: int = 1769
    dynamodb_call_ms: float = 5.0
    post_ms: float = 15.0
    parallel_posts: int = 16  # chat.fanout's pool


PRICES = Prices()
MODEL = Model()
MEMORY_MB = {f.name: f.memory for f in FUNCTIONS}


@dataclass
class Invocation:
    action: str
    function: str
    window: Window
    cpu_s: float
    wall_s: float

    @property
    def posts(self) -> int:
        return self.window.count("apigatewaymanagementapi", "PostToConnection")

    @property
    def dynamodb_calls(self) -> int:
        return self.window.count("dynamodb")

    @property
    def memory_mb(self) -> int:
        return MEMORY_MB[self.function]

    @property
    def billed_ms(self) -> float:
        """Modelled duration on AWS, rounded up to the millisecond as Lambda bills."""
        cpu_ms = self.cpu_s * 1000 * MODEL.full_vcpu_mb / self.memory_mb
        rounds = math.ceil(self.posts / MODEL.parallel_posts)
        waits = self.dynamodb_calls * MODEL.dynamodb_call_ms + rounds * MODEL.post_ms
        return float(math.ceil(cpu_ms + waits))

    @property
    def gb_seconds(self) -> float:
        return self.memory_mb / 1024 * self.billed_ms / 1000

    @property
    def messages(self) -> int:
        """API Gateway messages: the one received and each post (all under 32 KB)."""
        return (0 if self.action in ("$connect", "$disconnect") else 1) + self.posts

    def dollars(self, prices: Prices = PRICES) -> dict[str, float]:
        return {
            "Lambda": prices.lambda_request + self.gb_seconds * prices.lambda_gb_second,
            "DynamoDB": self.window.read_units * prices.read_unit
            + self.window.write_units * prices.write_unit,
            "API Gateway": self.messages * prices.websocket_message,
        }


@dataclass
class CostReport:
    actions: dict[str, list[Invocation]] = field(default_factory=dict)  # room of 10
    send: dict[int, list[Invocation]] = field(default_factory=dict)  # per room size
    moto_units: dict[str, float] = field(default_factory=dict)  # what moto reported


class _Handlers:
    """Runs the chat's handlers in this process, with AWS-shaped events."""

    def __init__(self, meter: Meter, domain: str) -> None:
        self.meter = meter
        self.domain = domain
        self.report = CostReport()
        self._functions = {r.key: f for f in FUNCTIONS for r in f.routes}
        self._modules: dict[str, Any] = {}

    def info(self, connection_id: str, query: Mapping[str, str]) -> ConnectionInfo:
        return ConnectionInfo(
            connection_id=connection_id,
            api_id="costapi",
            stage=STAGE,
            domain_name=self.domain,
            connected_at=int(time.time() * 1000),
            source_ip="127.0.0.1",
            query=list(query.items()),
        )

    def _run(self, route: str, event: dict[str, Any]) -> Invocation:
        function = self._functions[route]
        if function.module not in self._modules:
            self._modules[function.module] = importlib.import_module(function.module)
        handler = getattr(self._modules[function.module], function.handler.rpartition(".")[2])
        self.meter.window()
        cpu, wall = time.process_time(), time.perf_counter()
        handler(event, None)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        window = self.meter.window()
        return Invocation(route, function.name, window, cpu - window.overhead_cpu, wall)

    def connect(self, info: ConnectionInfo) -> Invocation:
        return self._run("$connect", events.connect_event(info, events.new_request_id(), 0))

    def disconnect(self, info: ConnectionInfo) -> Invocation:
        event = events.disconnect_event(info, 1000, "", events.new_request_id(), 0)
        return self._run("$disconnect", event)

    def message(self, info: ConnectionInfo, action: str, **payload: Any) -> Invocation:
        body = json.dumps({"action": action, **payload})
        event = events.message_event(
            info, action, body, events.new_request_id(), events.new_request_id(), 0
        )
        return self._run(action, event)

    def record(self, invocation: Invocation) -> Invocation:
        self.report.actions.setdefault(invocation.action, []).append(invocation)
        return invocation


def _user(handlers: _Handlers, name: str) -> ConnectionInfo:
    info = handlers.info(events.new_connection_id(), {"name": name, "key": secrets.token_hex(16)})
    handlers.record(handlers.connect(info))
    handlers.record(handlers.message(info, "listRooms"))
    return info


def _room_of_ten(handlers: _Handlers) -> None:
    """Every action, through the handlers: the room is built the way users build it."""
    from chat import rules

    admin = _user(handlers, "admin")
    created = handlers.record(handlers.message(admin, "createRoom", name="cost"))
    replies = [json.loads(data) for _, data in created.window.posted]
    room_id = next(r["room"]["roomId"] for r in replies if r["type"] == "roomCreated")
    member = admin
    for n in range(1, 10):
        member = _user(handlers, f"member {n}")
        handlers.record(handlers.message(member, "joinRoom", roomId=room_id, op="request"))
        user_id = rules.user_id_for_key(dict(member.query)["key"])
        handlers.record(
            handlers.message(admin, "joinRoom", roomId=room_id, op="approve", userId=user_id)
        )
    handlers.record(handlers.message(admin, "getMembers", roomId=room_id))
    handlers.record(handlers.message(admin, "getHistory", roomId=room_id))
    handlers.record(handlers.message(admin, "typing", roomId=room_id))
    handlers.report.send[10] = [
        handlers.record(handlers.message(admin, "sendMessage", roomId=room_id, text=TEXT))
        for _ in range(MESSAGES)
    ]
    handlers.record(handlers.message(member, "leaveRoom", roomId=room_id))
    handlers.record(handlers.disconnect(member))


def _big_room(handlers: _Handlers, store: Any, size: int) -> None:
    """A room of ``size`` approved members, all online, written straight to the tables."""
    from chat import app, rules
    from chat.rules import Identity, Member, Role, Room, Status

    now = app.now()
    infos = []
    for n in range(size):
        key = secrets.token_hex(16)
        identity = Identity(rules.user_id_for_key(key), f"user {n}")
        info = handlers.info(events.new_connection_id(), {"name": identity.name, "key": key})
        store.put_connection(info.connection_id, identity, now, app.epoch_seconds() + 7200)
        store.subscribe(info.connection_id)
        infos.append((info, identity))
    admin_info, admin = infos[0]
    room = Room(rules.new_room_id(), f"room of {size}", admin.user_id, now)

    def member(identity: Identity, info: ConnectionInfo, role: Role) -> Member:
        return Member(
            room.room_id,
            identity.user_id,
            identity.name,
            role,
            Status.APPROVED,
            now,
            room.name,
            frozenset({info.connection_id}),
        )

    store.create_room(room, member(admin, admin_info, Role.ADMIN))
    store.seat(member(identity, info, Role.MEMBER) for info, identity in infos[1:])
    handlers.report.send[size] = [
        handlers.message(admin_info, "sendMessage", roomId=room.room_id, text=TEXT)
        for _ in range(MESSAGES)
    ]


def run() -> CostReport:
    """Start moto and a 200-only @connections, run the scenario, return what it cost."""
    with tempfile.TemporaryDirectory(prefix="chat-cost-") as tmp:
        workdir = Path(tmp)
        port = processes.free_port()
        moto = processes.launch(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            workdir / "moto.log",
        )
        try:
            posts, where = bound.start(workdir, workdir / "posts.log", 60)
            try:
                processes.wait_for_port(port, moto, workdir / "moto.log", 60)
                return _scenario(f"http://127.0.0.1:{port}", where)
            finally:
                processes.stop(posts)
        finally:
            processes.stop(moto)


def _scenario(endpoint: str, posts: Mapping[str, str]) -> CostReport:
    stack = chat_stack(prefix=f"c{secrets.token_hex(3)}", stage=STAGE)
    target = Target.local(endpoint, REGION)
    Deployer(stack, target, Report(out=None)).deploy_tables()
    # What Lambda and deploy give every function: region, credentials, tables.
    lambda_environment = {
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": EMULATOR_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": EMULATOR_CREDENTIALS["aws_secret_access_key"],
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        "AWS_CA_BUNDLE": posts["ca"],
        "LOG_LEVEL": "WARNING",
        **stack.environment(FUNCTIONS[0]),
    }
    with _as_in_lambda(lambda_environment):
        return _metered(target, posts)


@contextmanager
def _as_in_lambda(environment: Mapping[str, str]) -> Iterator[None]:
    """``environment`` in this process and a fresh default boto3 session, for the
    handlers run here; both as they were after. Left behind, they reached every process
    the bench started later: MiniStack's functions took ``AWS_ENDPOINT_URL_DYNAMODB``
    (this run's moto, stopped by then) and all failed."""
    saved_environment, saved_session = dict(os.environ), boto3.DEFAULT_SESSION
    os.environ.update(environment)
    boto3.setup_default_session(region_name=REGION)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved_environment)
        boto3.DEFAULT_SESSION = saved_session


def _metered(target: Target, posts: Mapping[str, str]) -> CostReport:
    meter = Meter(boto3.DEFAULT_SESSION, target.client("dynamodb"))
    domain = posts["url"].removeprefix("https://").split("/")[0]
    handlers = _Handlers(meter, domain)
    _room_of_ten(handlers)
    from chat import config
    from chat.store import Store

    store = Store(config.load(), target.client("dynamodb"))  # not metered: set-up only
    for size in ROOMS[1:]:
        _big_room(handlers, store, size)
    return handlers.report


if __name__ == "__main__":
    from bench import cost_report

    print(cost_report.cost_section(run()))
