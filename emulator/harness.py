"""A whole stack on localhost: embedded AWS control plane, deploy, gateway and website.

``python -m emulator serve``, ``make local`` and the end-to-end tests each start one
of these. Order matters: the gateway listens first (its URL goes into the website's
configuration), deploy then provisions the control plane exactly as it would a real
account, and the gateway finally serves the routes and functions deploy created.
Each harness deploys into an account of its own, so harnesses never share state.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO, TypeVar

from emulator.api import ApiConfig, load_api
from emulator.controlplane import LOOPBACK, ControlPlane
from emulator.deploy import Deployer, Outputs, Report
from emulator.gateway import Gateway, Limits
from emulator.runner import LambdaRunner, runtime_library
from emulator.stack import Stack
from emulator.targets import Target
from emulator.tls import execute_api_host, make_certificates
from emulator.website import WebsiteServer

log = logging.getLogger("emulator.harness")
T = TypeVar("T")


@dataclass(frozen=True)
class HarnessSettings:
    """What to run and where; every port 0 picks a free one."""

    stack: Stack
    host: str = LOOPBACK  # where the WebSocket API and the website listen
    gateway_port: int = 0
    website_port: int = 0
    control_plane_port: int = 0
    connections_port: int = 0
    limits: Limits = field(default_factory=Limits)
    # None: embed moto's server. A URL (LocalStack's): use that account's control planes.
    control_plane_url: str | None = None
    build_dir: Path | None = None  # function packages; None: a temporary directory
    cache_dir: Path | None = None  # installed dependencies; None: the user's cache
    log_dir: Path | None = None  # function logs; None: a temporary directory
    outputs_path: Path | None = None  # where to write what deploy made, if anywhere
    account_id: str | None = None  # the embedded account's id; None: a random one


class Harness:
    """Starts and stops one stack; ``out`` receives deploy's report (None: no report).

    ``control_plane``: an embedded control plane to share with other harnesses (each
    still deploys into an account of its own); its owner starts and stops it.
    """

    def __init__(
        self,
        settings: HarnessSettings,
        out: TextIO | None = None,
        control_plane: ControlPlane | None = None,
    ) -> None:
        self.settings = settings
        self._workdir = tempfile.TemporaryDirectory(prefix="ws-emulator-")
        self._owns_control_plane = control_plane is None
        self.control_plane = control_plane
        if control_plane is None and settings.control_plane_url is None:
            self.control_plane = ControlPlane(settings.control_plane_port)
        self.gateway: Gateway | None = None
        self.runner: LambdaRunner | None = None
        self.website: WebsiteServer | None = None
        self.outputs: Outputs | None = None
        self.target: Target | None = None
        self.report = Report(out=out)

    @property
    def workdir(self) -> Path:
        return Path(self._workdir.name)

    @property
    def log_dir(self) -> Path:
        return self.settings.log_dir or self.workdir / "logs"

    @property
    def control_plane_url(self) -> str:
        """Where the AWS control planes (and DynamoDB, S3) are served."""
        if self.control_plane is None:
            assert self.settings.control_plane_url is not None
            return self.settings.control_plane_url
        return self.control_plane.url

    async def start(self) -> None:
        settings = self.settings
        stack = settings.stack
        if self.control_plane is not None:
            if self._owns_control_plane:
                await asyncio.to_thread(self.control_plane.start)
            self.target = await asyncio.to_thread(
                self.control_plane.new_account, stack.region, settings.account_id
            )
        else:
            self.target = Target.localstack(stack.region, self.control_plane_url)
        certificates = make_certificates(self.workdir / "tls", stack.region)
        self.gateway = Gateway(
            stack.stage,
            stack.region,
            certificates,
            settings.host,
            settings.gateway_port,
            settings.limits,
            settings.connections_port,
        )
        await self.gateway.start()
        deployer = Deployer(
            stack,
            self.target,
            self.report,
            build_dir=settings.build_dir or self.workdir / "build",
            cache_dir=settings.cache_dir,
        )
        self.outputs = await asyncio.to_thread(deployer.deploy, self.gateway.url)
        api = await asyncio.to_thread(
            load_api,
            self.target.client("apigatewayv2"),
            self.target.client("lambda"),
            self.outputs.api_id,
            stack.stage,
            {name: Path(path) for name, path in self.outputs.packages.items()},
            self.workdir / "code",
        )
        self.gateway.serve(api, self.runner_for(api, certificates.ca_path))
        if self.outputs.bucket is not None:
            self.website = WebsiteServer(
                self.target.client("s3"), self.outputs.bucket, settings.host, settings.website_port
            )
            self.website.start()
            # The bucket is served here, not by moto: that is the website's address.
            self.outputs = replace(self.outputs, website_url=self.website.url)
        if settings.outputs_path is not None:
            self.outputs.write(settings.outputs_path)

    def runner_for(self, api: ApiConfig, ca_path: Path) -> LambdaRunner:
        """The Lambda runner for the API's functions, in this harness's account."""
        assert self.gateway is not None
        assert self.target is not None
        key, secret = self.target.access_key
        region = self.settings.stack.region
        domain = execute_api_host(api.api_id, region)
        self.runner = LambdaRunner(
            api.functions,
            runtime_env={
                "AWS_REGION": region,
                "AWS_DEFAULT_REGION": region,
                "AWS_ACCESS_KEY_ID": key,
                "AWS_SECRET_ACCESS_KEY": secret,
                "AWS_ENDPOINT_URL": self.control_plane_url,
                "AWS_CA_BUNDLE": str(ca_path),
                # For handlers that take the @connections endpoint from configuration.
                "AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI": f"https://{domain}/{api.stage}",
            },
            runtime=runtime_library(self.workdir / "runtime"),
            log_dir=self.log_dir,
            resolve={domain: (LOOPBACK, self.gateway.connections_port)},
        )
        return self.runner

    async def stop(self) -> None:
        if self.gateway is not None:
            await self.gateway.stop()
        if self.runner is not None:
            await self.runner.close()
        if self.website is not None:
            self.website.stop()
        if self.control_plane is not None and self._owns_control_plane:
            self.control_plane.stop()
        self._workdir.cleanup()


class BackgroundHarness:
    """A :class:`Harness` on its own event loop thread, for synchronous callers (tests).

    ``with BackgroundHarness(settings) as harness: ...`` starts everything and stops
    it on exit, whatever happened inside.
    """

    def __init__(
        self,
        settings: HarnessSettings,
        out: TextIO | None = None,
        control_plane: ControlPlane | None = None,
    ) -> None:
        self.harness = Harness(settings, out, control_plane)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="harness", daemon=True)

    def __enter__(self) -> Harness:
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self.harness.start(), self._loop).result(timeout=120)
        except BaseException:
            self.__exit__()
            raise
        return self.harness

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the harness's loop and wait for it."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=60)

    def __exit__(self, *exc_info: object) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self.harness.stop(), self._loop).result(timeout=60)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()
