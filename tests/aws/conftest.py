"""The AWS tier: deploy and destroy as ``make aws`` runs them, against AWS's behaviours.

Each test deploys the AWS shape of the stack (CloudFront in front, monitoring, a
budget) into an account of its own on the session's moto server, with AWS's
documented behaviours played through botocore's event hooks (:mod:`tests.aws.played`).
Waits are scaled to nothing (``Options.patience``): a test waits for moto, never a clock.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from emulator.controlplane import ControlPlane
from emulator.deploy import Deployer, Options, Outputs, Report
from emulator.destroy import Destroyer
from emulator.harness_pool import HarnessPool
from emulator.stack import Authorizer, Function, Route, Stack
from emulator.targets import Target
from scripts.stack import HANDLERS_DIR, TABLES, THROTTLE, WEBSITE, chat_stack
from tests.aws.behaviours import Aws
from tests.aws.played import play_aws

# What `make aws ALARM_EMAIL=… BUDGET_USD=…` asks for, without waiting for AWS's clocks.
AWS_OPTIONS = Options(
    cdn=True, monitoring=True, patience=0.0, alarm_email="ops@example.com", budget_usd=25
)


@pytest.fixture(scope="session")
def control_plane(websocket_api_pool: HarnessPool) -> ControlPlane:
    """The session's moto server (the one the harnesses share)."""
    return websocket_api_pool.control_plane()


@pytest.fixture
def new_account(control_plane: ControlPlane) -> Callable[..., Target]:
    """A target in a fresh, empty account (``region`` defaults to us-east-1)."""

    def make(region: str = "us-east-1") -> Target:
        return control_plane.new_account(region)

    return make


@pytest.fixture
def target(new_account: Callable[..., Target]) -> Target:
    return new_account()


@pytest.fixture
def aws(target: Target) -> Iterator[Aws]:
    """AWS's behaviours that moto lacks, on the target's calls."""
    with Aws(target) as played:
        yield play_aws(played)


@pytest.fixture(scope="session")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One build directory for the session: the packages are the same in every test."""
    return tmp_path_factory.mktemp("build")


@pytest.fixture
def chat() -> Stack:
    return chat_stack(stage="prod")


def small_stack(prefix: str = "", region: str = "us-east-1") -> Stack:
    """One of each kind the chat has, and a two-way route and an authorizer it hasn't."""
    chat = chat_stack(stage="prod", prefix=prefix, region=region)
    authorizer = Function("authorize", "default.handler")
    return replace(
        chat,
        tables=TABLES[:1],
        functions=(
            Function("connect", "connect.handler", routes=(Route("$connect"),)),
            Function("ping", "default.handler", routes=(Route("ping", two_way=True),)),
        ),
        authorizer=Authorizer("key", authorizer, ("route.request.querystring.key",)),
        source=HANDLERS_DIR,
        website=WEBSITE,
        throttle=THROTTLE,
    )


@pytest.fixture
def deploy(build_dir: Path) -> Callable[..., tuple[Outputs, Report]]:
    """Deploy a stack as `make aws` would, through ``aws``'s clients: outputs and report."""

    def run(stack: Stack, aws: Aws, options: Options = AWS_OPTIONS) -> tuple[Outputs, Report]:
        report = Report(out=io.StringIO())
        deployer = Deployer(
            stack, aws.target, report, build_dir=build_dir, options=options, clients=aws.client
        )
        return deployer.deploy(), report

    return run


@pytest.fixture
def destroy() -> Callable[..., Report]:
    def run(stack: Stack, aws: Aws, options: Options = AWS_OPTIONS) -> Report:
        report = Report(out=io.StringIO())
        Destroyer(stack, aws.target, report, options, clients=aws.client).destroy()
        return report

    return run


def plan_of(stack: Stack, aws: Aws, build_dir: Path, options: Options = AWS_OPTIONS) -> Report:
    """A dry run's report: what a deploy would do now."""
    report = Report(out=None, dry_run=True)
    Deployer(
        stack,
        aws.target,
        report,
        dry_run=True,
        build_dir=build_dir,
        options=options,
        clients=aws.client,
    ).deploy()
    return report


@pytest.fixture
def played(new_account: Callable[..., Target]) -> Iterator[Callable[..., Aws]]:
    """Another account (or region of one), with AWS's behaviours playing on it."""
    opened: list[Aws] = []

    def open_one(target: Target | None = None, region: str = "us-east-1") -> Aws:
        aws = play_aws(Aws(target or new_account(region)))
        opened.append(aws)
        return aws

    yield open_one
    for aws in opened:
        aws.close()
