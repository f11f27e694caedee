"""Create or update every resource of a stack, idempotently, on any target.

A deploy plans, then runs. The planner (:mod:`~emulator.deploy.planner`) looks every
resource up, compares it with the :class:`~emulator.stack.Stack`, checks it is ours,
and lists steps (``created``, ``updated`` or ``unchanged``); the executor runs them and
reports each. A second run against an up-to-date stack makes no write call at all;
with ``dry_run`` the plan is reported and nothing is written. Destroy
(:mod:`~emulator.deploy.sweeper`) removes it all in reverse. Each kind of resource has a
module of its own: :mod:`tables`, :mod:`functions` (role, functions, permissions),
:mod:`api`, :mod:`website` and :mod:`cdn`, :mod:`monitoring` (log groups, topic,
alarms), :mod:`dashboard`, :mod:`budget`. The chat's commands are ``scripts/deploy.py``
and ``scripts/destroy.py``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from emulator import package
from emulator.deploy import cdn, dashboard, planner, tables
from emulator.deploy.calls import error_code, retry, role_not_yet_assumable
from emulator.deploy.executor import Context, execute
from emulator.deploy.models import (
    CREATED,
    DELETED,
    UNCHANGED,
    UPDATED,
    DeployError,
    ForeignResources,
    Options,
    Outputs,
    Report,
    Step,
)
from emulator.stack import Function, Stack
from emulator.targets import Target

__all__ = [
    "CREATED",
    "DELETED",
    "UNCHANGED",
    "UPDATED",
    "DeployError",
    "Deployer",
    "ForeignResources",
    "Options",
    "Outputs",
    "Report",
    "error_code",
    "retry",
    "role_not_yet_assumable",
]


class Deployer:
    """Brings one target in line with one :class:`Stack`.

    Function packages are built into ``build_dir`` (by default a temporary directory
    that lives as long as the deployer); ``cache_dir`` keeps installed dependencies.
    ``clients`` makes the boto3 client of a service (by default the target's own).
    """

    def __init__(
        self,
        stack: Stack,
        target: Target,
        report: Report | None = None,
        dry_run: bool = False,
        build_dir: Path | None = None,
        cache_dir: Path | None = None,
        options: Options | None = None,
        clients: Callable[[str], Any] | None = None,
    ) -> None:
        self.stack = stack
        self.target = target
        self.dry_run = dry_run
        self.report = report or Report(dry_run=dry_run)
        if build_dir is None:
            self._build_tmp = tempfile.TemporaryDirectory(prefix="ws-emulator-build-")
            build_dir = Path(self._build_tmp.name)
        self.build_dir = build_dir
        self.cache_dir = cache_dir
        self._packages: dict[str, package.Package] = {}
        self.context = Context(stack, target, options or Options(), self.report, dry_run, clients)

    @property
    def target_runs_functions(self) -> bool:
        """False once the target has shown it can't run functions (LocalStack without Docker)."""
        return self.context.target_runs_functions

    def build(self, function: Function) -> package.Package:
        """The function's package, in the build directory."""
        return package.build(
            function,
            self.stack.function_name(function),
            self.build_dir,
            self.stack.source,
            self.cache_dir,
        )

    def plan(self, websocket_url: str | None = None) -> list[Step]:
        """What a deploy would do, found by reads only; raises for resources not ours."""
        ctx = self.context
        ctx.refs.account = self.target.account_id()
        self._packages = {
            self.stack.function_name(function): self.build(function)
            for function in self.stack.all_functions
        }
        return planner.plan(
            ctx,
            self._packages,
            lambda: websocket_url or f"{ctx.refs.api_endpoint}/{self.stack.stage}",
        )

    def deploy(self, websocket_url: str | None = None) -> Outputs:
        """Create or update everything; ``websocket_url`` overrides the API's own."""
        steps = self.plan(websocket_url)
        execute(steps, self.report, self.dry_run)
        return self.outputs(websocket_url)

    def deploy_tables(self) -> None:
        """Only the stack's tables (what measuring the handlers' calls needs)."""
        self.context.refs.account = self.target.account_id()
        execute(tables.plan(self.context), self.report, self.dry_run)

    def outputs(self, websocket_url: str | None = None) -> Outputs:
        """What the last deploy made (in a dry run, with placeholders for new ids)."""
        ctx, stack = self.context, self.stack
        functions = {
            route_key: stack.function_name(function)
            for route_key, (function, _) in stack.route_function().items()
        }
        if stack.authorizer is not None:
            functions["authorizer"] = stack.function_name(stack.authorizer.function)
        monitored = ctx.offers("cloudwatch")
        return Outputs(
            target=self.target.name,
            region=self.target.region,
            endpoint_url=self.target.endpoint_url,
            api_id=ctx.refs.api_id,
            stage=stack.stage,
            websocket_url=websocket_url or f"{ctx.refs.api_endpoint}/{stack.stage}",
            website_url=cdn.website_url(ctx) if ctx.cdn else None,
            bucket=stack.website_bucket(ctx.refs.account) if stack.website else None,
            functions=functions,
            tables={t.env_var or t.name: stack.table_name(t) for t in stack.tables},
            packages={name: str(code.path) for name, code in self._packages.items()},
            distribution_id=ctx.refs.distribution_id if ctx.cdn else None,
            alarm_topic=ctx.refs.topic_arn if ctx.offers("sns") else None,
            dashboard=dashboard.dashboard_url(ctx) if monitored else None,
        )
