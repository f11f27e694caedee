"""The whole chat on localhost: embedded AWS emulator, deploy, gateway and website.

``make local`` and the end-to-end tests both start one of these. Order matters: the
gateway listens first (its URL goes into the client's configuration), deploy then
provisions the emulated account exactly as it would a real one, and the gateway
finally serves the routes and functions deploy created.
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

from moto.server import ThreadedMotoServer

from emulator.api import load_api
from emulator.gateway import Gateway, Limits
from emulator.runner import LambdaRunner
from emulator.tls import make_certificates
from emulator.website import WebsiteServer
from scripts.deploy import Deployer, Outputs, Report
from scripts.stack import Stack
from scripts.targets import API_IN_EMBEDDED_CONTROL_PLANE, EMULATOR_CREDENTIALS, Target

log = logging.getLogger("emulator.harness")
T = TypeVar("T")


@dataclass(frozen=True)
class HarnessSettings:
    host: str = "127.0.0.1"
    gateway_port: int = 0
    website_port: int = 0
    stack: Stack = field(default_factory=Stack)
    limits: Limits = field(default_factory=Limits)
    # None: embed moto's server. A URL (LocalStack's): use that account's control planes.
    control_plane_url: str | None = None


class Harness:
    def __init__(self, settings: HarnessSettings | None = None, out: TextIO | None = None) -> None:
        self.settings = settings or HarnessSettings()
        self._out = out
        self._workdir = tempfile.TemporaryDirectory(prefix="chat-local-")
        self.moto: ThreadedMotoServer | None = None
        if self.settings.control_plane_url is None:
            self.moto = ThreadedMotoServer(ip_address=self.settings.host, port=0, verbose=False)
        self.gateway: Gateway | None = None
        self.runner: LambdaRunner | None = None
        self.website: WebsiteServer | None = None
        self.outputs: Outputs | None = None
        self.target: Target | None = None

    @property
    def control_plane_url(self) -> str:
        """Where the AWS control planes (and DynamoDB, S3) are served."""
        if self.settings.control_plane_url is not None:
            return self.settings.control_plane_url
        assert self.moto is not None
        return self._url_of(self.moto)

    @staticmethod
    def _url_of(moto: ThreadedMotoServer) -> str:
        host, port = moto.get_host_and_port()
        return f"http://{host}:{port}"

    def _localstack_target(self, report: Report) -> Target:
        """LocalStack, with the WebSocket API's definition in moto if it has no API Gateway v2."""
        target = Target.localstack(self.settings.stack.region, self.control_plane_url)
        if target.has_websocket_apis():
            return target
        self.moto = ThreadedMotoServer(ip_address=self.settings.host, port=0, verbose=False)
        self.moto.start()
        report.note(API_IN_EMBEDDED_CONTROL_PLANE)
        return target.with_api_home(Target.local(self._url_of(self.moto), target.region))

    async def start(self) -> None:
        settings = self.settings
        stack = settings.stack
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        report = Report(out=self._out) if self._out else Report()
        if self.moto is not None:
            self.moto.start()
            self.target = Target.local(self.control_plane_url, stack.region)
        else:
            self.target = await asyncio.to_thread(self._localstack_target, report)
        deployer = Deployer(stack, self.target, report)
        if self.target.name == "localstack" and self.target.api_home is None:
            # A LocalStack plan with WebSocket APIs serves the API itself, if its Lambda
            # can run the functions (it needs Docker); if not, our gateway serves it.
            self.outputs = await asyncio.to_thread(deployer.deploy)
            if deployer.target_runs_functions:
                await self._serve_website()
                return
        workdir = Path(self._workdir.name)
        certificates = make_certificates(workdir / "tls")
        self.gateway = Gateway(
            stack.stage, certificates, settings.host, settings.gateway_port, settings.limits
        )
        await self.gateway.start()
        self.outputs = await asyncio.to_thread(deployer.deploy, self.gateway.url)
        api = await asyncio.to_thread(
            load_api,
            self.target.client("apigatewayv2"),
            self.target.client("lambda"),
            self.outputs.api_id,
            stack.stage,
            {name: Path(path) for name, path in self.outputs.packages.items()},
            workdir / "code",
        )
        self.runner = LambdaRunner(
            api.functions,
            runtime_env={
                "AWS_REGION": stack.region,
                "AWS_DEFAULT_REGION": stack.region,
                "AWS_ACCESS_KEY_ID": EMULATOR_CREDENTIALS["aws_access_key_id"],
                "AWS_SECRET_ACCESS_KEY": EMULATOR_CREDENTIALS["aws_secret_access_key"],
                "AWS_ENDPOINT_URL": self.control_plane_url,
                "AWS_CA_BUNDLE": str(certificates.ca_path),
                # For handlers that take the @connections endpoint from configuration.
                "AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI": self.gateway.management_endpoint,
            },
        )
        self.gateway.serve(api, self.runner)
        await self._serve_website()

    async def _serve_website(self) -> None:
        assert self.outputs is not None
        assert self.target is not None
        settings = self.settings
        if self.outputs.bucket is not None:
            self.website = WebsiteServer(
                self.target.client("s3"), self.outputs.bucket, settings.host, settings.website_port
            )
            self.website.start()
            # The bucket is served here, not by the emulator: that is the website's address.
            self.outputs = replace(self.outputs, website_url=self.website.url)
        self.outputs.write(settings.stack.outputs_path(self.target.name))

    async def stop(self) -> None:
        if self.gateway is not None:
            await self.gateway.stop()
        if self.runner is not None:
            await self.runner.close()
        if self.website is not None:
            self.website.stop()
        if self.moto is not None:
            self.moto.stop()
        self._workdir.cleanup()


class BackgroundHarness:
    """A :class:`Harness` on its own event loop thread, for synchronous callers (tests).

    ``with BackgroundHarness(settings) as harness: ...`` starts everything and stops
    it on exit, whatever happened inside.
    """

    def __init__(self, settings: HarnessSettings | None = None) -> None:
        self.harness = Harness(settings)
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
