"""Deploy the chat to LocalStack or an AWS account, idempotently (``make aws``).

    python -m scripts.deploy --target aws --region eu-west-1 [--prefix dev] [--dry-run]
        [--log-retention-days 14] [--alarm-email you@example.com] [--budget-usd 10]

Each step prints ``created``, ``updated`` or ``unchanged``; ``--dry-run`` prints the
plan and changes nothing. What was made goes to ``.chat/outputs-<target>-<region>.json``.
Every failure is one ``error:`` line (``--debug`` shows the traceback).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from emulator.controlplane import ControlPlane
from emulator.deploy import Deployer, DeployError, Options, Report
from emulator.package import PackageError
from emulator.stack import Stack, StackError
from emulator.targets import (
    API_IN_EMBEDDED_CONTROL_PLANE,
    LOCALSTACK_ENDPOINT,
    Target,
    TargetError,
    fail,
)
from scripts.stack import STATE_DIR, chat_stack, outputs_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--target", choices=["localstack", "aws"], required=True)
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--prefix", default="", help="name prefix, so stacks can coexist")
    parser.add_argument("--stage", default="prod")
    parser.add_argument("--endpoint", default=LOCALSTACK_ENDPOINT, help="LocalStack's URL")
    parser.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    parser.add_argument(
        "--log-retention-days", type=int, default=14, help="how long the functions' logs stay"
    )
    parser.add_argument("--alarm-email", help="subscribe this address to the alarms")
    parser.add_argument("--budget-usd", type=float, help="a monthly cost alert (0 removes it)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    args = parser.parse_args(argv)
    try:
        stack = chat_stack(prefix=args.prefix, stage=args.stage, region=args.region)
        options = Options(
            log_retention_days=args.log_retention_days,
            alarm_email=args.alarm_email or None,
            budget_usd=args.budget_usd,
        )
    except (StackError, DeployError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    target = (
        Target.localstack(args.region, args.endpoint)
        if args.target == "localstack"
        else Target.aws(args.region)
    )
    return run(stack, target, options, args.dry_run, args.debug)


def run(
    stack: Stack,
    target: Target,
    options: Options,
    dry_run: bool = False,
    debug: bool = False,
    out: TextIO | None = None,
    err: TextIO | None = None,
    build_dir: Path = STATE_DIR / "build",
    outputs: Path | None = None,
    clients: Callable[[str], Any] | None = None,
) -> int:
    """Deploy ``stack`` to ``target``; 0, or 1 after one ``error:`` line on ``err``."""
    out, err = out or sys.stdout, err or sys.stderr
    verb = "Planning a deploy of" if dry_run else "Deploying"
    print(f"{verb} the chat to {target.name} ({target.region})", file=out)
    embedded = ControlPlane()
    try:
        if target.name == "localstack" and not target.has_websocket_apis():
            if not dry_run:
                raise TargetError(
                    "LocalStack's free plan has no API Gateway v2: `make localstack` "
                    "deploys the rest to LocalStack and keeps the WebSocket API in its "
                    "embedded control plane (`make localstack DRY_RUN=1` prints that plan)"
                )
            embedded.start()
            target = target.with_api_home(embedded.new_account(target.region))
            print(f"  note: {API_IN_EMBEDDED_CONTROL_PLANE}", file=out)
        report = Report(out=out, dry_run=dry_run)
        deployer = Deployer(
            stack,
            target,
            report,
            dry_run=dry_run,
            build_dir=build_dir,
            options=options,
            clients=clients,
        )
        made = deployer.deploy()
    except (DeployError, PackageError) as exc:
        print(f"error: {exc}", file=err)
        return 1
    except Exception as exc:
        return fail(exc, target, debug, err)
    finally:
        embedded.stop()
    if dry_run:
        print("\nDry run: nothing was changed.", file=out)
        return 0
    path = outputs or outputs_path(target.name, stack.prefix, target.region)
    made.write(path)
    print(f"\nWebSocket URL: {made.websocket_url}", file=out)
    if made.website_url is not None:
        print(f"Website URL:   {made.website_url}", file=out)
        if made.distribution_id is not None:
            print(
                "               (HTTPS through CloudFront: a new or changed distribution "
                "takes a few minutes to reach every edge location)",
                file=out,
            )
    if made.dashboard is not None:
        print(f"Dashboard:     {made.dashboard}", file=out)
    if made.alarm_topic is not None:
        print(f"Alarms go to:  {made.alarm_topic}", file=out)
    print(f"(also in {path})", file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
