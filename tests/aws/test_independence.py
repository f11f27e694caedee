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


def role_resources(aws: Aws, stack: Stack) -> list[str]:
    document = aws.client("iam").get_role_policy(
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
    played: Callable[..., Aws],
    deploy: Callable[..., Any],
    destroy: Callable[..., Any],
    build_dir: Path,
) -> None:
    """Three copies of the chat in one account keep their own role, CDN, alarms and outputs;
    destroying one leaves the others complete."""
    home, europe = played(target), played(replace(target, region="eu-west-1"))  # one account
    stacks = {
        "us": (chat_stack(stage="prod"), home),
        "eu": (chat_stack(stage="prod", region="eu-west-1"), europe),
        "us-b": (chat_stack(stage="prod", prefix="b"), home),
    }
    made = {key: deploy(stack, aws)[0] for key, (stack, aws) in stacks.items()}
    assert len({stack.role_name for stack, _ in stacks.values()}) == 3
    for key, (stack, aws) in stacks.items():
        regional = [r for r in role_resources(aws, stack) if not r.startswith("arn:aws:iam")]
        assert all(f":{aws.target.region}:" in r for r in regional), key
    assert len({m.distribution_id for m in made.values()}) == 3
    assert len({m.dashboard for m in made.values()}) == 3
    paths = {outputs_path("aws", s.prefix, a.target.region) for s, a in stacks.values()}
    assert len(paths) == 3

    destroy(*stacks["eu"])
    for key in ("us", "us-b"):
        stack, aws = stacks[key]
        plan = plan_of(stack, aws, build_dir)
        assert plan.changes == [], key
        assert {action for action, _, _ in plan.steps} == {"unchanged"}
