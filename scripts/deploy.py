"""Deploy the chat to LocalStack or an AWS account, idempotently (``make aws``).

    python -m scripts.deploy --target aws --region eu-west-1 [--prefix dev] [--dry-run]

Each step prints ``created``, ``updated`` or ``unchanged``; ``--dry-run`` prints the
plan and changes nothing. What was made goes to ``.chat/outputs-<target>.json``.
"""

from __future__ import annotations

import argparse
import sys

from emulator.controlplane import ControlPlane
from emulator.deploy import Deployer, DeployError
from emulator.package import PackageError
from emulator.stack import StackError
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
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    args = parser.parse_args(argv)
    try:
        stack = chat_stack(prefix=args.prefix, stage=args.stage, region=args.region)
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    target = (
        Target.localstack(args.region, args.endpoint)
        if args.target == "localstack"
        else Target.aws(args.region)
    )
    verb = "Planning a deploy of" if args.dry_run else "Deploying"
    print(f"{verb} the chat to {target.name} ({target.region})")
    embedded = ControlPlane()
    try:
        if target.name == "localstack" and not target.has_websocket_apis():
            if not args.dry_run:
                raise TargetError(
                    "LocalStack's free plan has no API Gateway v2: `make localstack` "
                    "deploys the rest to LocalStack and keeps the WebSocket API in its "
                    "embedded control plane (`make localstack DRY_RUN=1` prints that plan)"
                )
            embedded.start()
            target = target.with_api_home(embedded.new_account(args.region))
            print(f"  note: {API_IN_EMBEDDED_CONTROL_PLANE}")
        deployer = Deployer(stack, target, dry_run=args.dry_run, build_dir=STATE_DIR / "build")
        outputs = deployer.deploy()
    except (DeployError, PackageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        return fail(exc, target, args.debug)
    finally:
        embedded.stop()
    if args.dry_run:
        print("\nDry run: nothing was changed.")
        return 0
    path = outputs_path(target.name, args.prefix)
    outputs.write(path)
    print(f"\nWebSocket URL: {outputs.websocket_url}\nWebsite URL:   {outputs.website_url}")
    print(f"(also in {path})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
