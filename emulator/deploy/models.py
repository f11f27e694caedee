"""What deploy works with, as plain data: the plan's steps, the ids they resolve, the report.

A deploy first plans (every resource looked up, compared with the stack, its owner
checked), then runs the plan's steps in order. A :class:`Step` is one resource's
action and the writes that carry it out; ids that exist only once a step has run (a
new API's id, a new distribution's domain) live in :class:`Refs`, which later steps read
when they run. :class:`Names` names what the :class:`~emulator.stack.Stack` doesn't name
itself: the resources deploy adds for HTTPS and monitoring.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TextIO

from emulator.stack import Stack

CREATED, UPDATED, UNCHANGED, DELETED, ABSENT = (
    "created",
    "updated",
    "unchanged",
    "deleted",
    "absent",
)
STACK_TAG = "chat:stack"
NEW = "(new)"  # stands for an id a dry run can't know yet
# The retention periods CloudWatch Logs accepts, in days.
RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827)
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class DeployError(Exception):
    """Something the user must resolve (e.g. a name taken by a resource not ours)."""


@dataclass(frozen=True)
class Foreign:
    """A resource with one of our names that this stack didn't create."""

    kind: str
    name: str
    tags: Mapping[str, str]

    def __str__(self) -> str:
        tags = ", ".join(f"{k}={v}" for k, v in sorted(self.tags.items())) or "none"
        return f"{self.kind} {self.name} (its tags: {tags})"


class ForeignResources(DeployError):
    """Resources of our names that are not ours: deploy and destroy leave them alone."""

    def __init__(self, found: list[Foreign], stack_id: str, destroying: bool = False) -> None:
        self.found = found
        what = "; ".join(str(f) for f in found)
        if destroying:
            text = (
                f"left alone, not created by this stack ({STACK_TAG}={stack_id}): {what}; "
                "remove them yourself if they are yours"
            )
        else:
            text = (
                f"not created by this stack ({STACK_TAG}={stack_id}), so nothing was changed: "
                f"{what}; choose another PREFIX= (--prefix), or remove them"
            )
        super().__init__(text)


@dataclass(frozen=True)
class Options:
    """How a deploy goes beyond the stack itself: HTTPS in front, monitoring, patience.

    ``cdn`` None puts CloudFront in front where the target offers it (always on AWS,
    never on the local target). ``monitoring`` None makes the alarms, their topic and the
    dashboard everywhere but on the local target, where nothing evaluates them (the AWS
    tier's tests ask for them there: their moto accounts stand in for AWS).
    ``budget_usd`` None leaves any budget as it is; 0 removes ours. ``patience`` scales
    every wait for AWS (tests set it near 0).
    """

    cdn: bool | None = None
    monitoring: bool | None = None
    log_retention_days: int = 14
    alarm_email: str | None = None
    budget_usd: float | None = None
    patience: float = 1.0

    def __post_init__(self) -> None:
        if self.log_retention_days not in RETENTION_DAYS:
            allowed = ", ".join(str(d) for d in RETENTION_DAYS)
            raise DeployError(
                f"LOG_RETENTION_DAYS={self.log_retention_days}: CloudWatch Logs keeps logs "
                f"for one of {allowed} days"
            )
        if self.alarm_email is not None and not _EMAIL.fullmatch(self.alarm_email):
            raise DeployError(f"ALARM_EMAIL={self.alarm_email!r} is not an email address")
        if self.budget_usd is not None and self.budget_usd < 0:
            raise DeployError(f"BUDGET_USD={self.budget_usd:g}: give 0 (no budget) or more")


@dataclass(frozen=True)
class Names:
    """Names of the resources deploy adds, unique per (account, region, prefix).

    CloudFront's, the dashboard's and the budget's names are global to the account,
    so they carry the region; alarms and the topic are regional.
    """

    stack: Stack

    @property
    def base(self) -> str:
        return f"{self.stack.prefix}-{self.stack.name}" if self.stack.prefix else self.stack.name

    @property
    def marker(self) -> str:
        """The stack's tag, written where a resource takes no tags (its description)."""
        return f"{STACK_TAG}={self.stack.stack_id}"

    @property
    def alarm_prefix(self) -> str:
        return f"{self.base}: "

    def alarm(self, subject: str, what: str) -> str:
        return f"{self.alarm_prefix}{subject} {what}"

    @property
    def topic(self) -> str:
        return f"{self.base}-alarms"

    @property
    def dashboard(self) -> str:
        return f"{self.base}-{self.stack.region}"

    @property
    def budget(self) -> str:
        return f"{self.base}-{self.stack.region}-monthly"

    @property
    def origin_access_control(self) -> str:
        return f"{self.base}-{self.stack.region}-website"

    @property
    def headers_policy(self) -> str:
        return f"{self.base}-{self.stack.region}-security-headers"

    @property
    def distribution(self) -> str:
        """A distribution has no name: this comment is how deploy finds its own."""
        return f"{self.marker} website"


@dataclass
class Refs:
    """Ids that later steps need: found while planning, or set by the step creating them."""

    account: str
    api_id: str = NEW
    api_endpoint: str = ""
    authorizer_id: str | None = None
    integrations: dict[str, str] = field(default_factory=dict)  # function URI -> id
    origin_access_control: str = NEW
    headers_policy: str = NEW
    distribution_id: str = NEW
    distribution_domain: str = NEW
    topic_arn: str = NEW


@dataclass
class Step:
    """One resource's action; ``run`` makes its writes (None: nothing to write)."""

    action: str
    kind: str
    name: str
    run: Callable[[], object] | None = None


@dataclass
class Report:
    """What each step did (or, in a dry run, would do), printed to ``out`` as it happens."""

    out: TextIO | None = sys.stdout  # None: keep the steps, print nothing
    dry_run: bool = False
    steps: list[tuple[str, str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __call__(self, action: str, kind: str, name: str) -> None:
        self.steps.append((action, kind, name))
        if self.out is None:
            return
        shown = (
            f"would {action.removesuffix('d')}"
            if self.dry_run and action in (CREATED, UPDATED, DELETED)
            else action
        )
        print(f"  {shown:<13} {kind:<16} {name}", file=self.out, flush=True)

    @property
    def changes(self) -> list[tuple[str, str, str]]:
        return [s for s in self.steps if s[0] not in (UNCHANGED, ABSENT)]

    def note(self, text: str) -> None:
        """Something the user should know about this deploy; not a step."""
        self.notes.append(text)
        if self.out is not None:
            print(f"  note: {text}", file=self.out, flush=True)

    def summary(self) -> str:
        """One line: how many of each kind each action touched."""
        counts = Counter((action, kind) for action, kind, _ in self.steps)
        by_action: dict[str, list[str]] = {}
        for (action, kind), n in counts.items():
            by_action.setdefault(action, []).append(f"{n} {kind}{'s' if n > 1 else ''}")
        return "; ".join(f"{action} {', '.join(kinds)}" for action, kinds in by_action.items())


@dataclass(frozen=True)
class Outputs:
    """What a deploy leaves for the emulator, the tests and the client."""

    target: str
    region: str
    endpoint_url: str | None
    api_id: str
    stage: str
    websocket_url: str
    website_url: str | None
    bucket: str | None
    functions: dict[str, str]  # route key (or "authorizer") -> function name
    tables: dict[str, str]  # environment variable -> table name
    packages: dict[str, str]  # function name -> zip deployed
    distribution_id: str | None = None  # the CloudFront distribution serving the website
    alarm_topic: str | None = None  # the SNS topic the alarms notify
    dashboard: str | None = None  # the CloudWatch dashboard's name

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def read(cls, path: Path) -> Outputs:
        return cls(**json.loads(path.read_text()))
