"""A run stopped after any of its writes, as Ctrl-C or a dead laptop would stop it, is
finished by the next run; a third run then changes nothing. Destroy likewise.

Each stopped run gets a prefix of its own in one account, so every one starts from nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from emulator.deploy import Report
from emulator.stack import Stack
from tests.aws.behaviours import Aws, Interrupted
from tests.aws.conftest import plan_of, small_stack
from tests.aws.played import Interrupt, SlowStates

# Every k-th write of a first deploy, of the small stack's (about 45 writes) and the
# chat's (about 185). CHAT_TEST_INTERRUPT_EVERY=1 tries every write of both.
EVERY = int(os.environ.get("CHAT_TEST_INTERRUPT_EVERY", "0"))
SMALL_EVERY = EVERY or 3
CHAT_EVERY = EVERY or 37


def made(report: Report, stack: Stack, account: str) -> list[tuple[str, str]]:
    """A report's resources, their names made general (the account's id, the prefix)."""
    return sorted(
        (kind, name.replace(account, "<account>").replace(stack.prefix, "<prefix>"))
        for _, kind, name in report.steps
    )


def a_clean_deploy(stack: Stack, aws: Aws, deploy: Callable[..., Any]) -> tuple[int, list[Any]]:
    """How many writes a first deploy makes, and what a second run then finds."""
    aws.calls.clear()
    deploy(stack, aws)
    writes = sum(aws.writes.values())
    _, report = deploy(stack, aws)
    return writes, made(report, stack, aws.target.account_id())


def stopped_then_finished(
    stack: Stack, aws: Aws, after: int, deploy: Callable[..., Any]
) -> list[tuple[str, str]]:
    """Stop a first deploy after its ``after``-th write, then run it again twice.

    The rerun must succeed and the third run change nothing; returns what it found."""
    with aws.playing():
        SlowStates(aws, reads=1)  # what the stopped run leaves busy is still busy after
        with aws.playing():
            Interrupt(after).install(aws)
            with pytest.raises(Interrupted):
                deploy(stack, aws)
        deploy(stack, aws)
    aws.calls.clear()
    _, report = deploy(stack, aws)
    assert (report.changes, aws.writes) == ([], {}), f"stopped after write {after}"
    return made(report, stack, aws.target.account_id())


def test_every_stopped_first_deploy_is_finished_by_the_next(
    aws: Aws, deploy: Callable[..., Any]
) -> None:
    """The small stack, stopped after every k-th write in turn, is completed by a rerun."""
    total, reference = a_clean_deploy(small_stack("clean"), aws, deploy)
    for after in range(1, total + 1, SMALL_EVERY):
        stack = small_stack(f"k{after}")
        assert stopped_then_finished(stack, aws, after, deploy) == reference, after


def test_a_run_stopped_right_after_creating_the_bucket_is_finished(
    aws: Aws, deploy: Callable[..., Any], build_dir: Path
) -> None:
    """The audit's case: a first run dies between creating the bucket and anything else."""
    stack = small_stack()
    with aws.playing():
        Interrupt(1, operation="CreateBucket").install(aws)
        with pytest.raises(Interrupted, match="CreateBucket"):
            deploy(stack, aws)
    deploy(stack, aws)
    assert plan_of(stack, aws, build_dir).changes == []


def test_the_chat_stopped_every_k_writes_is_finished(
    aws: Aws, chat: Stack, deploy: Callable[..., Any]
) -> None:
    """The chat itself, stopped after every k-th write of its first deploy, is completed."""
    total, reference = a_clean_deploy(replace(chat, prefix="clean"), aws, deploy)
    for after in range(1, total + 1, CHAT_EVERY):
        stack = replace(chat, prefix=f"k{after}")
        assert stopped_then_finished(stack, aws, after, deploy) == reference, after


def test_a_stopped_destroy_is_finished_by_the_next(
    aws: Aws, deploy: Callable[..., Any], destroy: Callable[..., Any]
) -> None:
    """Destroy stopped after every k-th write in turn: the next destroy removes the rest."""
    clean = small_stack("clean")
    deploy(clean, aws)
    aws.calls.clear()
    destroy(clean, aws)
    total = sum(aws.writes.values())
    for after in range(1, total + 1, SMALL_EVERY):
        stack = small_stack(f"d{after}")
        deploy(stack, aws)
        with aws.playing():
            SlowStates(aws, reads=1)
            with aws.playing():
                Interrupt(after).install(aws)
                with pytest.raises(Interrupted):
                    destroy(stack, aws)
            destroy(stack, aws)
        report = destroy(stack, aws)
        assert {action for action, _, _ in report.steps} == {"absent"}, after
