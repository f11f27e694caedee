"""Every (account, region, prefix) is a stack of its own: deploying or destroying one
never touches another, though IAM, CloudFront, dashboards and budgets are global."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from emulator.deploy import functions
from emulator.stack import Stack
from emulator.targets import Target
from scripts.stack import chat_stack, outputs_path
from tests.aws.behaviours import Aws
from tests.aws.conftest import plan_of
from tests.aws.played import play_aws


def role_resources(target: Target, stack: Stack) -> list[str]:
    document = target.client("iam").get_role_policy(
        RoleName=stack.role_name, PolicyName=functions.POLICY_NAME
    )["PolicyDocument"]
    if isinstance(document, str):
        document = json.loads(document)
    return [
        resource
        for statement in document["Statement"]
        for resource in (
            statement["Resource"]
            if isinstance(statement["Resource"], list)
            else [statement["Resource"]]
        )
    ]


def test_two_regions_and_two_prefixes_in_one_account(
    target: Target,
    deploy: Callable[..., Any],
    destroy: Callable[..., Any],
    build_dir: Path,
) -> None:
    """Three copies of the chat in one account keep their own role, CDN, alarms and outputs;
    destroying one leaves the others complete."""
    europe = replace(target, region="eu-west-1")  # same account: same credentials
    stacks = {
        "us": (chat_stack(stage="prod"), target),
        "eu": (chat_stack(stage="prod", region="eu-west-1"), europe),
        "us-b": (chat_stack(stage="prod", prefix="b"), target),
    }
    made = {}
    for key, (stack, where) in stacks.items():
        with Aws(where) as aws:
            play_aws(aws)
            made[key], _ = deploy(stack, where)
    roles = {stacks[key][0].role_name for key in stacks}
    assert len(roles) == 3
    for key, (stack, where) in stacks.items():
        resources = role_resources(where, stack)
        assert all(
            f":{where.region}:" in r for r in resources if not r.startswith("arn:aws:iam")
        ), key
    assert len({m.distribution_id for m in made.values()}) == 3
    assert len({m.dashboard for m in made.values()}) == 3
    assert len({outputs_path("aws", s.prefix, w.region) for s, w in stacks.values()}) == 3

    eu_stack, _ = stacks["eu"]
    with Aws(europe) as aws:
        play_aws(aws)
        destroy(eu_stack, europe)
    for key in ("us", "us-b"):
        stack, where = stacks[key]
        with Aws(where) as aws:
            play_aws(aws)
            plan = plan_of(stack, where, build_dir)
        assert plan.changes == [], key
        assert {action for action, _, _ in plan.steps} == {"unchanged"}
