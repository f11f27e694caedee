"""What a :class:`~emulator.harness.Harness` runs, and where."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from emulator.controlplane import LOOPBACK
from emulator.debugging import DebugSettings
from emulator.quotas import Limits
from emulator.runner import IDLE_WORKER_SECONDS
from emulator.stack import Stack


@dataclass(frozen=True)
class HarnessSettings:
    """What to run and where; every port 0 picks a free one."""

    stack: Stack
    host: str = LOOPBACK  # where the WebSocket API and the website listen
    gateway_port: int = 0
    website_port: int = 0
    control_plane_port: int = 0
    connections_port: int = 0
    post_latency: float = 0.0  # seconds added to each @connections call, as AWS's network
    worker_idle: float = IDLE_WORKER_SECONDS  # an idle worker is retired after this
    limits: Limits = field(default_factory=Limits)
    # None: embed moto's server. A URL (LocalStack's): use that account's control planes.
    control_plane_url: str | None = None
    build_dir: Path | None = None  # function packages; None: a temporary directory
    cache_dir: Path | None = None  # installed dependencies; None: the user's cache
    log_dir: Path | None = None  # function logs; None: a temporary directory
    outputs_path: Path | None = None  # where to write what deploy made, if anywhere
    account_id: str | None = None  # the embedded account's id; None: a random one
    state_dir: Path | None = None  # keep the tables' data here across restarts
    fresh: bool = False  # start with empty tables even if state_dir holds data
    pythons: Mapping[str, Path] = field(default_factory=dict)  # --python 3.12=/path
    moto_api: bool = False  # serve moto's /moto-api routes (reset, dashboard) too
    record: bool = True  # keep the inspector's record of connections, frames, invocations
    inspector_port: int | None = None  # serve the inspector's page here (0: any); None: no page
    debug: DebugSettings | None = None  # let a debugger attach to functions (--debug-port)
