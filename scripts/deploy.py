"""Deploy the chat to LocalStack or an AWS account, idempotently (``make aws``).

    python -m scripts.deploy --target aws --region eu-west-1 [--prefix dev] [--dry-run]

Each step prints ``created``, ``updated`` or ``unchanged``; ``--dry-run`` prints the
plan and changes nothing. What was made goes to ``.chat/outputs-<target>.json``.
"""

from __future__ import annotations

import argparse
import sys

from emulator.deploy import Deployer, DeployError
from emulator.package import PackageError
from emulator.stack import StackError
from emulator.targets import Target, TargetError
from scripts.stack import STATE_DIR, chat_stack, outputs_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--target", choices=["localstack", "aws"], required=True)
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--prefix", default="", help="name prefix, so stacks can coexist")
    parser.add_argument("--stage", default="prod")
    parser.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    args = parser.parse_args(argv)
    try:
        stack = chat_stack(prefix=args.prefix, stage=args.stage, region=args.region)
        target = (
            Target.localstack(args.region)
            if args.target == "localstack"
            else Target.aws(args.region)
        )
        verb = "Planning a deploy of" if args.dry_run else "Deploying"
        print(f"{verb} the chat to {target.name} ({target.region})")
        deployer = Deployer(stack, target, dry_run=args.dry_run, build_dir=STATE_DIR / "build")
        outputs = deployer.deploy()
    except (TargetError, DeployError, StackError, PackageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
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
