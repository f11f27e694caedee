"""A run stopped after any of its writes, as Ctrl-C or a dead laptop would stop it, is
finished by the next run; a third run then changes nothing. Destroy likewise."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from emulator.stack import Stack
from emulator.targets import Target
from tests.aws.behaviours import Aws, Interrupted
from tests.aws.conftest import plan_of, small_stack
from tests.aws.played import Interrupt, SlowStates, play_aws

# Every k-th write of the chat's first deploy (every write of the small stack's).
CHAT_EVERY = int(os.environ.get("CHAT_TEST_INTERRUPT_EVERY", "23"))


def writes_of_a_first_deploy(stack: Stack, target: Target, deploy: Callable[..., Any]) -> int:
    with Aws(target) as aws:
        play_aws(aws)
        deploy(stack, target)
        return sum(aws.writes.values())


def interrupted_then_finished(
    stack: Stack, target: Target, after: int, deploy: Callable[..., Any], build_dir: Path
) -> list[str]:
    """Stop a first deploy after its ``after``-th write, run again twice: what went wrong."""
    problems = []
    with Aws(target) as aws:
        play_aws(aws)
        SlowStates(aws, reads=1)
        Interrupt(after).install(aws)
        try:
            deploy(stack, target)
            problems.append(f"write {after}: the run was not interrupted")
        except Interrupted:
            pass
    with Aws(target) as aws:
        play_aws(aws)
        SlowStates(aws, reads=1)  # what the stopped run left busy is still busy
        try:
            deploy(stack, target)
        except Exception as exc:
            return [f"write {after}: the rerun failed: {type(exc).__name__}: {exc}"]
    with Aws(target) as aws:
        play_aws(aws)
        _, report = deploy(stack, target)
        if report.changes or aws.writes:
            problems.append(
                f"write {after}: a third run changed {report.changes} {dict(aws.writes)}"
            )
    return problems


def complete(
    stack: Stack, target: Target, reference: list[tuple[str, str]], build_dir: Path
) -> bool:
    """Whether everything a clean deploy makes is there, unchanged."""
    with Aws(target) as aws:
        play_aws(aws)
        plan = plan_of(stack, target, build_dir)
    return plan.changes == [] and sorted((k, n) for _, k, n in plan.steps) == reference


def test_every_interrupted_first_deploy_is_finished_by_the_next(
    new_account: Callable[..., Target], deploy: Callable[..., Any], build_dir: Path
) -> None:
    """The small stack, stopped after each of its writes in turn, is completed by a rerun."""
    stack = small_stack()
    clean = new_account()
    total = writes_of_a_first_deploy(stack, clean, deploy)
    reference = sorted((k, n) for _, k, n in plan_of_in(stack, clean, build_dir).steps)
    problems = []
    for after in range(1, total + 1):
        target = new_account()
        problems += interrupted_then_finished(stack, target, after, deploy, build_dir)
        if not complete(stack, target, reference, build_dir):
            problems.append(f"write {after}: the stack is not complete after the rerun")
    assert problems == [], "\n".join(problems)


def test_the_chat_interrupted_every_k_writes_is_finished(
    new_account: Callable[..., Target], chat: Stack, deploy: Callable[..., Any], build_dir: Path
) -> None:
    """The chat itself, stopped after every k-th write of its first deploy, is completed."""
    clean = new_account()
    total = writes_of_a_first_deploy(chat, clean, deploy)
    reference = sorted((k, n) for _, k, n in plan_of_in(chat, clean, build_dir).steps)
    problems = []
    for after in range(1, total + 1, CHAT_EVERY):
        target = new_account()
        problems += interrupted_then_finished(chat, target, after, deploy, build_dir)
        if not complete(chat, target, reference, build_dir):
            problems.append(f"write {after}: the stack is not complete after the rerun")
    assert problems == [], "\n".join(problems)


def test_an_interrupted_destroy_is_finished_by_the_next(
    new_account: Callable[..., Target],
    deploy: Callable[..., Any],
    destroy: Callable[..., Any],
) -> None:
    """Destroy stopped after each of its writes in turn: the next destroy removes the rest."""
    stack = small_stack()
    clean = new_account()
    deploy(stack, clean)
    with Aws(clean) as aws:
        play_aws(aws)
        destroy(stack, clean)
        total = sum(aws.writes.values())
    problems = []
    for after in range(1, total + 1):
        target = new_account()
        with Aws(target) as aws:
            play_aws(aws)
            deploy(stack, target)
            Interrupt(after).install(aws)
            with pytest.raises(Interrupted):
                destroy(stack, target)
        with Aws(target) as aws:
            play_aws(aws)
            SlowStates(aws, reads=1)
            destroy(stack, target)
            report = destroy(stack, target)
        left = [step for step in report.steps if step[0] != "absent"]
        if left:
            problems.append(f"write {after}: a third destroy found {left}")
    assert problems == [], "\n".join(problems)


def plan_of_in(stack: Stack, target: Target, build_dir: Path) -> Any:
    with Aws(target) as aws:
        play_aws(aws)
        return plan_of(stack, target, build_dir)
