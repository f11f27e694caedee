"""docs/performance.md's "Issue 23: the local loop": each row of the issue, its target,
and whether this run met it (:mod:`bench.issue23` measures them)."""

from __future__ import annotations

import platform
import statistics
from collections.abc import Callable, Sequence

from bench.compare import percentile
from bench.issue23 import Issue23
from bench.issue23_echo import ECHO_WARM, Echo
from bench.issue23_pytest import PytestCost
from bench.issue23_startup import IDLE_TARGET_MB, READY_TARGET_S, Startup

PER_TEST_TARGET_MS = 100.0
WHOLE_RUN_REFERENCE_S = 21.0  # MiniStack's 20 tests, a deploy each, by hand (issue 23)
ECHO_TARGET_MS = 1.0
MB = 2**20


def _spread(values: Sequence[float], unit: str, scale: float = 1.0, digits: int = 2) -> str:
    if not values:
        return "–"
    median = statistics.median(values) * scale
    text = f"{median:,.{digits}f} {unit}"
    if len(values) > 1:
        low, high = min(values) * scale, max(values) * scale
        text += f" ({low:,.{digits}f}–{high:,.{digits}f})"
    return text


def _no_figures(why: str) -> str:
    """A cell without figures: why, in one line (a skip or a setup not run says so)."""
    if not why:
        return "–"
    return why[:120] if why.startswith(("skipped", "not run")) else f"failed: {why[:120]}"


def _met(value: float | None, target: float) -> str:
    if value is None:
        return "not measured"
    return "met" if value <= target else "**missed**"


def _startup(s: Startup | None, what: Callable[[Startup], str]) -> str:
    if s is None:
        return "–"
    if not s.ready_s or not s.rss:  # failed in its first round, or never ran
        return _no_figures(s.failed)
    return what(s)


def _ready(s: Startup) -> str:
    return _spread(s.ready_s, "s")


def _memory(s: Startup) -> str:
    rss = statistics.median(s.rss) / MB
    pss = statistics.median(s.pss) / MB
    count = max(s.processes)
    return f"{rss:,.0f} MB RSS, {pss:,.0f} MB PSS ({count} process{'es' if count > 1 else ''})"


def _echo(e: Echo | None, fraction: float) -> str:
    if e is None:
        return "–"
    if not e.latencies:
        return _no_figures(e.failed)
    text = f"{1000 * percentile(e.latencies, fraction):.2f} ms"
    if fraction == 0.5 and len(e.round_p50) > 1:
        text += f" ({1000 * min(e.round_p50):.2f}–{1000 * max(e.round_p50):.2f})"
    return text


def _bound_python(r: Issue23) -> str:
    return r.round_trips.bound_python or "the interpreter ours runs the handler on (no bound ran)"


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def section(r: Issue23) -> str:
    st = r.startup
    example, chat, bench = st.get("ours-example"), st.get("ours-chat"), st.get("ours")
    offline, ministack = st.get("serverless-offline"), st.get("ministack")

    def ready_met(s: Startup | None) -> str:
        return _met(_median(s.ready_s) if s else None, READY_TARGET_S)

    def idle_met(s: Startup | None) -> str:
        return _met(statistics.median(s.rss) / MB if s and s.rss else None, IDLE_TARGET_MB)

    p, m = r.pytest["ours"], r.pytest["ministack"]
    per_test = _median(p.per_test_ms)
    wall = _median(p.wall_s)
    reference = _median(m.wall_s) or WHOLE_RUN_REFERENCE_S
    trips = r.round_trips.by_probe
    echo, reply, alone = trips["echo"], trips["reply"], trips["broadcast-1"]
    ours_p50 = percentile(echo["ours"].latencies, 0.5) * 1000 if echo["ours"].latencies else None

    def runs(c: PytestCost, what: Callable[[PytestCost], str]) -> str:
        return _no_figures(c.failed) if c.failed and not c.wall_s else what(c)

    rows = [
        ("spawn → Ready, the example project", _startup(example, _ready), "–", "–", "–",
         f"≤ {READY_TARGET_S:g} s", ready_met(example)),
        ("spawn → Ready, the chat", _startup(chat, _ready), "–", "–", "–",
         f"≤ {READY_TARGET_S:g} s", ready_met(chat)),
        ("spawn → Ready, the bench's stack", _startup(bench, _ready),
         _startup(offline, _ready), _startup(ministack, _ready), "–", "–", "–"),
        ("idle memory, the example project (1 function)", _startup(example, _memory), "–", "–",
         "–", f"≤ {IDLE_TARGET_MB:g} MB RSS", idle_met(example)),
        ("idle memory, the chat", _startup(chat, _memory), "–", "–", "–", "–", "–"),
        ("idle memory, the bench's stack", _startup(bench, _memory),
         _startup(offline, _memory), _startup(ministack, _memory), "–", "–", "–"),
        ("pytest, `isolation = \"test\"`: setup + teardown per test (median, bar the first)",
         runs(p, lambda c: _spread(c.per_test_ms, "ms", digits=0)), "–",
         runs(m, lambda c: _spread(c.per_test_ms, "ms", digits=0)), "–",
         f"≤ {PER_TEST_TARGET_MS:g} ms", _met(per_test, PER_TEST_TARGET_MS)),
        ("pytest: the first test's setup",
         runs(p, lambda c: _spread(c.first_setup_s, "s")), "–",
         runs(m, lambda c: _spread(c.first_setup_s, "s")), "–", "–", "–"),
        ("pytest: a test's call (median; a cold start each)",
         runs(p, lambda c: _spread(c.call_ms, "ms", digits=0)), "–",
         runs(m, lambda c: _spread(c.call_ms, "ms", digits=0)), "–", "–", "–"),
        (f"pytest, {p.tests} tests, whole run", runs(p, lambda c: _spread(c.wall_s, "s", digits=1)),
         "–", runs(m, lambda c: _spread(c.wall_s, "s", digits=1)), "–",
         f"well under MiniStack's ({reference:.1f} s)", _met(wall, reference)),
        ("echo round trip, p50 (range of the rounds' p50)", _echo(echo["ours"], 0.5),
         _echo(echo.get("serverless-offline"), 0.5), _echo(echo.get("ministack"), 0.5),
         _echo(echo.get("bound"), 0.5), f"≤ {ECHO_TARGET_MS:g} ms", _met(ours_p50, ECHO_TARGET_MS)),
        ("echo round trip, p99", _echo(echo["ours"], 0.99),
         _echo(echo.get("serverless-offline"), 0.99), _echo(echo.get("ministack"), 0.99),
         _echo(echo.get("bound"), 0.99), "–", "–"),
        ("echo through a route response, p50", _echo(reply["ours"], 0.5),
         _echo(reply.get("serverless-offline"), 0.5), _echo(reply.get("ministack"), 0.5),
         "– (no boto3 call)", "–", "–"),
        ("broadcast to 1 (DynamoDB query + post), p50", _echo(alone["ours"], 0.5),
         _echo(alone.get("serverless-offline"), 0.5), _echo(alone.get("ministack"), 0.5),
         _echo(alone.get("bound"), 0.5), "–", "–"),
    ]  # fmt: skip
    table = "| row | ours | serverless-offline | MiniStack | bound | target | this run |\n"
    table += "|---|---|---|---|---|---|---|\n"
    table += "".join("| " + " | ".join(row) + " |\n" for row in rows)
    return f"""## Issue 23: the local loop

What a developer waits for between edits and test runs ([issue 23](../issues/23)),
measured by `make bench` ([bench/issue23.py](../bench/issue23.py) and its modules,
{r.wall_s:.0f} s) on this machine under the load above: medians of {r.rounds} interleaved
round(s), with the rounds' range.

- **spawn → Ready**: from starting the process to its serving: ours, the banner's
  WebSocket API line (`python -m emulator serve ... --port 0 --quiet`, warm template
  cache); serverless-offline, its WebSocket port open (moto and the table first);
  MiniStack, ready and the bench's stack deployed with boto3. **Idle memory**: the whole
  process tree once it has stayed under 5% of a core for half a second, after Ready.
- **pytest**: {p.tests} generated tests against the example project's template with
  `websocket_api_isolation = "test"`, each counting a word and checking its count is 1;
  pytest's own setup and teardown durations; {max(len(p.wall_s), len(m.wall_s))} run(s) each, interleaved.
  MiniStack runs the same test file with [bench/ministack_pytest.py](../bench/ministack_pytest.py)'s
  fixture: the same stack deployed with boto3 before each test and deleted after it (its
  handler's endpoint from `CONNECTIONS_ENDPOINT`). Without MiniStack the whole run is held
  to the {WHOLE_RUN_REFERENCE_S:g} s the issue measured for it.
- **Round trips**: one socket sends a message and waits for its frame back,
  {r.echo_messages} messages a round after {ECHO_WARM} to warm up, through one of the routes of
  [bench/broadcast/handler.py](../bench/broadcast/handler.py): **echo** posts it back (one
  `post_to_connection`); **reply** returns it as its body, which the route's `$default`
  route response sends back (`RouteResponseSelectionExpression: $default` and an
  `AWS::ApiGatewayV2::RouteResponse` in the template, `routeResponseSelectionExpression`
  on serverless-offline's websocket event, both by boto3 on MiniStack, which sends any
  route's body back, route response or not); **broadcast to 1**:
  the socket is alone in a room of its own and broadcasts to it, the handler's DynamoDB
  Query on the room index, then one post. The bound calls the same handler in-process on
  {_bound_python(r)}, its posts answered by the 200-only HTTPS server, its Query (broadcast
  to 1) by our emulator's control plane alone in a process of its own, the table holding
  that one connection ([bench/bound_dynamodb.py](../bench/bound_dynamodb.py): of the bench's
  DynamoDBs the fastest to answer it; serverless-offline's handler queries moto's own server).
  The reply makes no call, so it has no bound. Ours runs the handler's
  `python3.12` on that same Python; serverless-offline and MiniStack on the bench's Python
  {platform.python_version()}: serverless-offline by its own design (the `python3` on its
  `PATH`, the bench's venv), MiniStack on its own interpreter (a venv made from the
  bench's). The issue's broadcast rows at larger rooms are the tables above.

{table}
{imports_section(r)}{resident_section(r)}
Where an invocation's time goes (the echo's and the broadcast's misses) is in
[profile.md](profile.md) (`make profile`: the gateway's and a worker's CPU, by function).
"""


def imports_section(r: Issue23) -> str:
    """The profile of each start-up that missed its target: its imports before Ready."""
    if not r.imports:
        return ""
    labels = {"ours-example": "the example project", "ours-chat": "the chat"}
    lines = [
        "**Why start-up misses**: one more spawn of each under `python -X importtime`: the",
        "modules imported up to Ready, their own import times added up by top-level package",
        "(one spawn each, at this run's load: compare the shares). What is not imports is the deploy:",
        "moto's backends on their first request, botocore's clients and models (py-spy's",
        'view of it is in "Measured by hand" below). Idle memory follows the same imports.',
        "",
        "| stack | spawn → Ready (with importtime) | of which imports | the slowest packages |",
        "|---|---|---|---|",
    ]
    for key, imports in r.imports.items():
        top = ", ".join(f"`{name}` {seconds:.2f} s" for name, seconds in imports.top)
        lines.append(
            f"| {labels.get(key, key)} | {imports.ready_s:.2f} s | {imports.total_s:.2f} s | {top} |"
        )
    return "\n".join(lines) + "\n"


def resident_section(r: Issue23) -> str:
    """Where the example's idle memory is, when it missed its target."""
    if not r.resident:
        return ""
    lines = [
        "**Why idle memory misses**: one more spawn of the example project, idle, its",
        "resident memory by what it is mapped from (`/proc/<pid>/smaps`): a package under",
        "`site-packages` is its compiled extensions' code and data, `[heap]` and",
        "`[anonymous]` hold the Python objects (every module imported, moto's backends).",
        "",
        "| spawn | RSS | the most resident |",
        "|---|---|---|",
    ]
    for key, resident in r.resident.items():
        top = ", ".join(f"`{owner}` {size / MB:.1f} MB" for owner, size in resident.top)
        lines.append(f"| {key} | {resident.rss / MB:.1f} MB | {top} |")
    return "\n".join(lines) + "\n"
