"""Remove the chat from LocalStack or an AWS account, in dependency order; safe to repeat.

python -m scripts.destroy --target aws --region eu-west-1 [--prefix dev]
"""

from __future__ import annotations

import argparse
import sys

from emulator.deploy import Report
from emulator.destroy import Destroyer
from emulator.targets import LOCALSTACK_ENDPOINT, Target, fail
from scripts.stack import chat_stack, outputs_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Remove the chat stack from a target.")
    parser.add_argument("--target", choices=["local", "localstack", "aws"], required=True)
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--prefix", default="")
    parser.add_argument("--stage", default="prod")
    parser.add_argument("--endpoint", default=LOCALSTACK_ENDPOINT, help="LocalStack's URL")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    args = parser.parse_args(argv)
    if args.target == "local":
        print("The local target lives in memory: stopping `make local` removes it all.")
        return 0
    stack = chat_stack(prefix=args.prefix, stage=args.stage, region=args.region)
    target = (
        Target.localstack(args.region, args.endpoint)
        if args.target == "localstack"
        else Target.aws(args.region)
    )
    print(f"Removing the chat from {target.name} ({target.region})")
    try:
        Destroyer(stack, target, Report()).destroy()
    except Exception as exc:
        return fail(exc, target, args.debug)
    outputs_path(target.name, args.prefix).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
