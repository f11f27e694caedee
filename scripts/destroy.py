"""Remove the chat from LocalStack or an AWS account, in dependency order; safe to repeat.

python -m scripts.destroy --target aws --region eu-west-1 [--prefix dev]

Only what carries this stack's tag is removed; anything else under its names is left
alone and named. Every failure is one ``error:`` line (``--debug`` shows the traceback).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from emulator.deploy import DeployError, ForeignResources, Options, Report
from emulator.destroy import Destroyer
from emulator.stack import Stack, StackError
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
    return run(stack, target, Options(), args.debug)


def run(
    stack: Stack,
    target: Target,
    options: Options,
    debug: bool = False,
    out: TextIO | None = None,
    err: TextIO | None = None,
    outputs: Path | None = None,
    clients: Callable[[str], Any] | None = None,
) -> int:
    """Remove ``stack`` from ``target``; 0, or 1 after one ``error:`` line on ``err``."""
    out, err = out or sys.stdout, err or sys.stderr
    print(f"Removing the chat from {target.name} ({target.region})", file=out)
    path = outputs or outputs_path(target.name, stack.prefix, target.region)
    try:
        Destroyer(stack, target, Report(out=out), options, clients).destroy()
    except ForeignResources as exc:
        path.unlink(missing_ok=True)  # what it described is gone; the rest was never ours
        print(f"error: {exc}", file=err)
        return 1
    except DeployError as exc:
        print(f"error: {exc}", file=err)
        return 1
    except Exception as exc:
        return fail(exc, target, debug, err)
    path.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
