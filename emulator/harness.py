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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from emulator import memory, runtimes
from emulator.api import ApiConfig, load_api
from emulator.controlplane import LOOPBACK, ControlPlane
from emulator.debugging import DebugTarget, targets_for
from emulator.deploy import Deployer, DeployError, Outputs, Report
from emulator.gateway import Gateway
from emulator.harness_settings import HarnessSettings
from emulator.inspector.actions import Actions
from emulator.inspector.callers import Callers
from emulator.inspector.describe import describe_api
from emulator.inspector.record import Record
from emulator.inspector.server import InspectorServer
from emulator.interpreters import InterpreterError, Pythons
from emulator.package import PackageError
from emulator.persistence import Persistence
from emulator.runner import LambdaRunner, runtime_library
from emulator.stack import Stack
from emulator.state import Restored, SavedState, StateError
from emulator.targets import API_IN_EMBEDDED_CONTROL_PLANE, Target
from emulator.tls import certificates as tls_certificates
from emulator.tls import execute_api_host
from emulator.website import WebsiteServer

log = logging.getLogger("emulator.harness")
T = TypeVar("T")


class ReloadError(Exception):
    """A change that can't be applied to the running stack; the message says why."""


@dataclass(frozen=True)
class Reloaded:
    """What a redeploy changed: functions now on new code, and every other change."""

    functions: list[str]
    changes: list[tuple[str, str, str]]


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
            self.control_plane = self._embedded_control_plane()
        self.gateway: Gateway | None = None
        self.runner: LambdaRunner | None = None
        self.website: WebsiteServer | None = None
        self.outputs: Outputs | None = None
        self.target: Target | None = None
        self.report = Report(out=out)
        self.stack = settings.stack
        self.restored: Restored | None = None
        self.persistence: Persistence | None = None  # --state-dir: the tables kept
        self.loop: asyncio.AbstractEventLoop | None = None  # the one it runs on, once started
        self.record = Record(find_caller=Callers().find) if settings.record else None
        self.inspector: InspectorServer | None = None
        self.debugged: list[DebugTarget] = []  # functions a debugger can attach to
        self._prewarming: set[asyncio.Task[None]] = set()
        self.pythons = Pythons(settings.pythons)  # which interpreter runs each python3.X

    @property
    def workdir(self) -> Path:
        return Path(self._workdir.name)

    @property
    def log_dir(self) -> Path:
        return self.settings.log_dir or self.workdir / "logs"

    @property
    def control_plane_url(self) -> str:
        """Where the AWS control planes (and DynamoDB, S3) are served."""
        if self.settings.control_plane_url is not None:
            return self.settings.control_plane_url
        assert self.control_plane is not None
        return self.control_plane.url

    def _embedded_control_plane(self) -> ControlPlane:
        settings = self.settings
        return ControlPlane(settings.control_plane_port, settings.moto_api, self.log_dir)

    def _localstack_target(self) -> Target:
        """LocalStack, with the WebSocket API's definition embedded if it has no API Gateway v2."""
        settings = self.settings
        target = Target.localstack(settings.stack.region, self.control_plane_url)
        if target.has_websocket_apis():
            return target
        self.control_plane = self._embedded_control_plane()
        self.control_plane.start()
        self.report.note(API_IN_EMBEDDED_CONTROL_PLANE)
        return target.with_api_home(
            self.control_plane.new_account(target.region, settings.account_id)
        )

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        settings = self.settings
        stack = settings.stack
        if settings.state_dir is not None and settings.control_plane_url is not None:
            raise StateError(
                "--state-dir keeps the embedded AWS emulator's tables; "
                "LocalStack keeps its own (its PERSISTENCE setting)"
            )
        if self.control_plane is not None:
            if self._owns_control_plane:
                await asyncio.to_thread(self.control_plane.start)
            if settings.state_dir is not None:
                self.persistence = Persistence(SavedState(settings.state_dir))
                await self.persistence.open(self.control_plane, settings.fresh)
            self.target = await asyncio.to_thread(
                self.control_plane.new_account, stack.region, settings.account_id
            )
        else:
            self.target = await asyncio.to_thread(self._localstack_target)
        if self.target.name == "localstack" and self.target.api_home is None:
            # A LocalStack plan with WebSocket APIs serves the API itself, if its Lambda
            # can run the functions (it needs Docker); if not, our gateway serves it.
            deployer = self._deployer(stack, self.report)
            self.outputs = await asyncio.to_thread(deployer.deploy)
            if deployer.target_runs_functions:
                self._serve_website()
                return
            self.report.note("the gateway emulator serves LocalStack's API and runs the functions")
        certificates = tls_certificates(stack.region, self.workdir / "tls")
        self.gateway = Gateway(
            stack.stage,
            stack.region,
            certificates,
            settings.host,
            settings.gateway_port,
            settings.limits,
            settings.connections_port,
            settings.post_latency,
        )
        self.gateway.observer = self.record
        await self.gateway.start()
        # Finding the interpreters runs other Pythons (pyenv's shims: a tenth of a second
        # each): it goes on while deploy works, not after it.
        finding = asyncio.create_task(asyncio.to_thread(self._find_pythons, stack))
        try:
            api = await self._deploy(stack, self.report)
        finally:
            await finding
        if self.persistence is not None:
            self.restored = await self._restore(stack)
        runner = self.runner_for(api, certificates.ca_path)
        if settings.debug is not None:
            refused = runner.refused()
            self.debugged = targets_for(settings.debug, stack, api, self.workdir, refused)
            runner.debug({target.function: target for target in self.debugged})
            for target in self.debugged:
                self.gateway.scheduler.limit(target.function, 1)
            await asyncio.gather(*(runner.prewarm(t.function) for t in self.debugged))
        self.gateway.serve(api, runner)
        await self._serve_inspector(api)
        self._serve_website()
        if self.persistence is not None:
            assert self.target is not None
            await self.persistence.start_saving(self.target.client("sts"), stack.region)
        memory.give_back()  # what deploy's models and threads left free

    def _find_pythons(self, stack: Stack) -> None:
        """Look for the interpreter of each python3.X runtime the stack uses, ahead of the
        runner. An interpreter given by hand that is none is not kept: the runner looks
        again, and says so, where it always has."""
        for function in stack.all_functions:
            runtime = runtimes.parse(function.runtime)
            if runtime.family == runtimes.PYTHON:
                try:
                    self.pythons.find((runtime.version[0], runtime.version[1]))
                except InterpreterError:
                    continue

    async def _restore(self, stack: Stack) -> Restored:
        """Put back the saved tables the stack has (just deployed, so empty)."""
        assert self.persistence is not None
        assert self.target is not None
        return await self.persistence.restore(stack, self.target.client("dynamodb"))

    async def _serve_inspector(self, api: ApiConfig) -> None:
        """Keep the record of what happens; serve its page if asked to."""
        if self.record is None or self.gateway is None or self.runner is None:
            return
        self.runner.observer = self.record
        self.record.api = describe_api(api, self.gateway)
        if self.settings.inspector_port is not None:
            actions = Actions(self.record, self.gateway, self.runner)
            self.inspector = InspectorServer(self.record, actions, self.settings.inspector_port)
            await self.inspector.start()

    def _serve_website(self) -> None:
        assert self.outputs is not None
        assert self.target is not None
        settings = self.settings
        if self.outputs.bucket is not None:
            self.website = WebsiteServer(
                self.target.client("s3"),
                self.outputs.bucket,
                settings.host,
                settings.website_port,
                self.stack.website.config_file if self.stack.website is not None else None,
            )
            self.website.start()
            # The bucket is served here, not by the emulator: that is the website's address.
            self.outputs = replace(self.outputs, website_url=self.website.url)
        if settings.outputs_path is not None:
            self.outputs.write(settings.outputs_path)

    def _deployer(self, stack: Stack, report: Report) -> Deployer:
        assert self.target is not None
        return Deployer(
            stack,
            self.target,
            report,
            build_dir=self.settings.build_dir or self.workdir / "build",
            cache_dir=self.settings.cache_dir,
        )

    async def _deploy(self, stack: Stack, report: Report) -> ApiConfig:
        """Deploy the stack into the harness's account; what the gateway must serve."""
        assert self.target is not None
        assert self.gateway is not None
        deployer = self._deployer(stack, report)
        outputs = await asyncio.to_thread(deployer.deploy, self.gateway.url)
        if self.website is not None:
            outputs = replace(outputs, website_url=self.website.url)
        self.outputs = outputs
        return await asyncio.to_thread(
            load_api,
            self.target.client("apigatewayv2"),
            self.target.client("lambda"),
            outputs.api_id,
            stack.stage,
            {name: Path(path) for name, path in outputs.packages.items()},
            self.workdir / "code",
        )

    async def redeploy(self, stack: Stack | None = None) -> Reloaded:
        """Apply a changed stack (or changed code) while serving: open connections stay.

        Deploy changes only what differs; functions whose code or configuration changed
        get fresh workers for their next invocation. Raises ReloadError (and keeps
        serving what it served) for a change that needs a restart.
        """
        assert self.gateway is not None
        assert self.runner is not None
        stack = stack or self.stack
        if (stack.stage, stack.region, stack.name, stack.prefix) != (
            self.stack.stage,
            self.stack.region,
            self.stack.name,
            self.stack.prefix,
        ):
            raise ReloadError(
                "the stack's name, prefix, stage or region changed: restart to serve it"
            )
        report = Report(out=None)
        try:
            api = await self._deploy(stack, report)
        except (DeployError, PackageError) as exc:
            raise ReloadError(str(exc)) from exc
        if self.persistence is not None:  # a table back in the stack gets its data back
            try:
                restored = await self._restore(stack)
            except (BotoCoreError, ClientError) as exc:
                raise ReloadError(f"could not restore the saved tables: {exc}") from exc
            if restored.tables or restored.notes:
                log.info("%s", restored.summary())
        changed = await self.runner.update(api.functions)
        self.gateway.serve(api, self.runner)
        for name in set(changed) & set(self.runner.debugged):
            # A new worker listens for the debugger to attach again, once the old one
            # (perhaps stopped at a breakpoint) has finished.
            task = asyncio.create_task(self.runner.prewarm(name))
            self._prewarming.add(task)
            task.add_done_callback(self._prewarming.discard)
        if self.record is not None:
            self.record.api = describe_api(api, self.gateway)
        self.stack = stack
        return Reloaded(changed, report.changes)

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
            idle_timeout=self.settings.worker_idle,
            pythons=self.pythons,
        )
        return self.runner

    async def stop(self) -> None:
        for task in self._prewarming:
            task.cancel()
        if self.inspector is not None:
            await self.inspector.stop()
        if self.gateway is not None:
            await self.gateway.stop()
        if self.runner is not None:
            await self.runner.close()
        if self.persistence is not None:
            await self.persistence.close()
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
