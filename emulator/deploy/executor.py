"""What the planners and the steps of every resource kind share, and the loop that runs a plan.

A :class:`Context` holds one target's clients, the stack, the deploy's options, the
:class:`~emulator.deploy.models.Refs` that steps fill in, and the resources found under
our names that aren't ours. :func:`execute` runs a plan's steps in order and reports
each as it completes (in a dry run: reports them, runs nothing).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from emulator.deploy import calls
from emulator.deploy.models import STACK_TAG, Foreign, Names, Options, Refs, Report, Step
from emulator.stack import Stack
from emulator.targets import Target

T = TypeVar("T")
R = TypeVar("R")
# Look-ups of many resources of a kind (16 functions, their alarms) go in parallel: AWS
# answers each in tens of milliseconds, and boto3's clients are thread-safe.
LOOKUPS_AT_ONCE = 8


class Context:
    def __init__(
        self,
        stack: Stack,
        target: Target,
        options: Options,
        report: Report,
        dry_run: bool,
        clients: Callable[[str], Any] | None = None,
    ) -> None:
        self.stack = stack
        self.target = target
        self.options = options
        self.report = report
        self.dry_run = dry_run
        self.names = Names(stack)
        self.refs = Refs(account="")
        self.foreign: list[Foreign] = []
        self.cdn = False  # whether CloudFront serves the website (decided when planning)
        # False once the target has shown it can't run functions (LocalStack without Docker).
        self.target_runs_functions = True
        self._make_client = clients or target.client
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()
        self._offers: dict[str, bool] = {}

    def client(self, service: str) -> Any:
        # Locked: the first look-ups of a kind run in parallel (gather), and each thread
        # made a client of its own (the chat's: eight Lambda clients, 10 to 40 ms each).
        with self._clients_lock:
            if service not in self._clients:
                self._clients[service] = self._make_client(service)
            return self._clients[service]

    @property
    def tags(self) -> dict[str, str]:
        """The tag that marks a resource as this stack's."""
        return {STACK_TAG: self.stack.stack_id}

    def owned(self, kind: str, name: str, tags: Mapping[str, str] | None) -> bool:
        """Whether a resource found under our name is ours; if not, it is noted as foreign."""
        if (tags or {}).get(STACK_TAG) == self.stack.stack_id:
            return True
        self.foreign.append(Foreign(kind, name, dict(tags or {})))
        return False

    def offers(self, service: str) -> bool:
        """Whether the target has this service (LocalStack's free plan lacks some)."""
        if service not in self._offers:
            self._offers[service] = self.target.offers(service)
        return self._offers[service]

    def gather(self, look_up: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """``look_up`` of each item (reads only), in parallel, in the items' order."""
        items = list(items)
        # A target answered in process (the embedded control plane) does its work in this
        # process, under the GIL: threads only took turns (the chat's start: 40 ms more).
        if len(items) < 2 or self.target.transport is not None:
            return [look_up(item) for item in items]
        with ThreadPoolExecutor(min(LOOKUPS_AT_ONCE, len(items))) as pool:
            return list(pool.map(look_up, items))

    def wait(self, service: str, waiter: str, **kwargs: Any) -> None:
        calls.wait(self.client(service), waiter, self.options.patience, **kwargs)

    def retry(self, call: Callable[[], T], retryable: Callable[[Exception], bool]) -> T:
        return calls.retry(call, retryable, delay=self.options.patience)


def execute(steps: list[Step], report: Report, dry_run: bool) -> None:
    """Run each step's writes (unless a dry run), then report it."""
    for step in steps:
        if step.run is not None and not dry_run:
            step.run()
        report(step.action, step.kind, step.name)
