"""docs/performance.md: the machine, the side-by-side table, the ratios, the plot, and the
cost (:mod:`bench.cost_report` writes that part)."""

from __future__ import annotations

import datetime
import os
import platform
from pathlib import Path

from bench import chat, compare, cost, plot, setups
from bench.compare import Cell, Comparison, Summary
from bench.cost_report import cost_section

DOCS = Path(__file__).resolve().parent.parent / "docs"
PLOT_NAME = "performance-latency.svg"
PEERS = ("serverless-offline", "ministack")
NODE_PEERS = ("serverless-offline-node", "ministack-node")
LABELS = {s.key: s.label for s in setups.SETUPS}


def machine() -> dict[str, str]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": str(os.cpu_count()),
        "cpu": model,
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        "load": load,
    }


def _mb(value: int | None) -> str:
    return f"{value / 2**20:,.0f} MB" if value else "–"


def _n(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def _ratio(ours: float, other: float) -> str:
    return f"{ours / other:.2f}×" if other else "–"


def _best_peer(
    c: Comparison, cell: Cell, among: tuple[str, ...] = PEERS
) -> tuple[str, Summary] | None:
    peers = [(k, c.summaries[k][cell]) for k in among if cell in c.summaries.get(k, {})]
    return max(peers, key=lambda p: p[1].rate) if peers else None


def setups_section(c: Comparison) -> str:
    lines = [
        "| setup | version | how it runs the handler | ready in | 1,118 sockets opened in "
        "| peak RSS of its process tree (processes) | RSS while all sockets close |",
        "|---|---|---|---|---|---|---|",
    ]
    for setup in setups.SETUPS:
        key = setup.key
        if key in c.skipped:
            lines.append(f"| {setup.label} | – | skipped: {c.skipped[key]} | | | | |")
            continue
        opened = (
            f"{c.connect_s[key]:.1f} s ({c.connections[key] / c.connect_s[key]:,.0f}/s)"
            if c.connections.get(key)
            else "–"
        )
        lines.append(
            f"| {setup.label} | {c.versions.get(key) or '–'} | {setup.note} "
            f"| {c.startup_s[key]:.1f} s | {opened} "
            f"| {_mb(c.peak_rss.get(key))} ({c.processes.get(key, 0)}) "
            f"| {_mb(c.closing_rss.get(key))} |"
        )
    for key, reason in c.failed.items():
        lines.append(
            f"\n**{LABELS[key]} failed** during the runs ({reason}); its cells stop there."
        )
    return "\n".join(lines)


def results_section(c: Comparison) -> str:
    lines = [
        "| room, messages in flight | setup | deliveries/s (median; min–max of rounds) "
        "| p50 | p99 | server CPU s per 1,000 deliveries | messages (lost) |",
        "|---|---|---|---|---|---|---|",
    ]
    for cell in compare.CELLS:
        for setup in setups.SETUPS:
            summary = c.summaries.get(setup.key, {}).get(cell)
            if summary is None:
                continue
            rates = summary.rates
            spread = f"{min(rates):,.0f}–{max(rates):,.0f}" if len(rates) > 1 else "one round"
            lost = f" ({summary.lost} lost)" if summary.lost else ""
            lines.append(
                f"| {cell.label} | {setup.label} | **{summary.rate:,.0f}** ({spread}) "
                f"| {summary.p50_ms:,.1f} ms | {summary.p99_ms:,.1f} ms "
                f"| {summary.cpu_per_1000:.2f} | {summary.messages:,}{lost} |"
            )
    return "\n".join(lines)


def ratios_section(c: Comparison) -> str:
    ours = c.summaries.get("ours", {})
    bound = c.summaries.get("bound", {})
    lines = [
        "| room, messages in flight | best peer | ours ÷ best peer, deliveries/s "
        "| ours ÷ serverless-offline, p99 | ours ÷ bound, deliveries/s "
        "| ours per busy core ÷ bound per core |",
        "|---|---|---|---|---|---|",
    ]
    for cell in compare.CELLS:
        mine = ours.get(cell)
        if mine is None:
            continue
        best = _best_peer(c, cell)
        offline = c.summaries.get("serverless-offline", {}).get(cell)
        ceiling = bound.get(cell)
        lines.append(
            f"| {cell.label} "
            f"| {LABELS[best[0]] if best else 'none ran'} "
            f"| {_ratio(mine.rate, best[1].rate) if best else '–'} "
            f"| {_ratio(mine.p99_ms, offline.p99_ms) if offline else '–'} "
            f"| {_ratio(mine.rate, ceiling.rate) if ceiling else '–'} "
            f"| {_ratio(ceiling.cpu_per_1000, mine.cpu_per_1000) if ceiling else '–'} |"
        )
    return "\n".join(lines)


def inspector_section(c: Comparison) -> str:
    """What keeping the inspector's record costs: ours beside ours with --no-inspector."""
    ours = c.summaries.get("ours", {})
    bare = c.summaries.get("ours-no-inspector", {})
    lines = [
        "| room, messages in flight | deliveries/s, inspector on ÷ off | p99, on ÷ off "
        "| CPU per 1,000 deliveries, on ÷ off |",
        "|---|---|---|---|",
    ]
    for cell in compare.CELLS:
        on, off = ours.get(cell), bare.get(cell)
        if on is None or off is None:
            continue
        lines.append(
            f"| {cell.label} | {_ratio(on.rate, off.rate)} | {_ratio(on.p99_ms, off.p99_ms)} "
            f"| {_ratio(on.cpu_per_1000, off.cpu_per_1000)} |"
        )
    if len(lines) == 2:
        return "Not measured (one of the two didn't run)."
    return "\n".join(lines)


def node_ratios_section(c: Comparison) -> str:
    """The Node.js handler: ours against the Node.js peers, and against our Python run."""
    ours = c.summaries.get("ours-node", {})
    python = c.summaries.get("ours", {})
    lines = [
        "| room, messages in flight | best Node.js peer | ours ÷ best peer, deliveries/s "
        "| ours ÷ best peer, p99 | Node.js ÷ Python on ours, deliveries/s |",
        "|---|---|---|---|---|",
    ]
    for cell in compare.CELLS:
        mine = ours.get(cell)
        if mine is None:
            continue
        best = _best_peer(c, cell, NODE_PEERS)
        same = python.get(cell)
        lines.append(
            f"| {cell.label} "
            f"| {LABELS[best[0]] if best else 'none ran'} "
            f"| {_ratio(mine.rate, best[1].rate) if best else '–'} "
            f"| {_ratio(mine.p99_ms, best[1].p99_ms) if best else '–'} "
            f"| {_ratio(mine.rate, same.rate) if same else '–'} |"
        )
    return "\n".join(lines)


def targets_section(c: Comparison, chat_report: chat.ChatReport | None = None) -> str:
    ours = c.summaries.get("ours", {})
    bound = c.summaries.get("bound", {})
    rows = []
    for inflight in (1, compare.PIPELINE):
        cell = Cell(100, inflight)
        mine, best = ours.get(cell), _best_peer(c, cell)
        if mine and best:
            ratio = mine.rate / best[1].rate
            rows.append(
                f"| ≥ 2× the best peer's deliveries/s at {cell.label} | {ratio:.2f}× "
                f"({LABELS[best[0]]}) | {'met' if ratio >= 2 else 'missed'} |"
            )
        ceiling = bound.get(cell)
        if mine and ceiling:
            share = ceiling.cpu_per_1000 / mine.cpu_per_1000
            rows.append(
                f"| ≥ 70% of the boto3 bound per busy core, {cell.label} | {share:.0%} "
                f"| {'met' if share >= 0.7 else 'missed'} |"
            )
            of_bound = mine.rate / ceiling.rate
            rows.append(
                f"| (issue 23) ≥ 0.8× the boto3 bound's deliveries/s, {cell.label} "
                f"| {of_bound:.2f}× | {'met' if of_bound >= 0.8 else 'missed'} |"
            )
        offline = c.summaries.get("serverless-offline", {}).get(cell)
        if mine and offline:
            rows.append(
                f"| p99 below serverless-offline's at {cell.label} | {mine.p99_ms:,.0f} ms "
                f"vs {offline.p99_ms:,.0f} ms "
                f"| {'met' if mine.p99_ms < offline.p99_ms else 'missed'} |"
            )
    if chat_report is not None:
        rows += chat.target_rows(chat_report)
    if not rows:
        return "Not enough setups ran to check the targets."
    return "\n".join(["| target (issue 14 unless named) | this run | |", "|---|---|---|", *rows])


def latency_plot(c: Comparison) -> str:
    panels = []
    # The Python comparison; the Node.js and --no-inspector runs have tables of their own.
    apart = {*NODE_PEERS, "ours-node", "ours-no-inspector"}
    keys = [s.key for s in setups.SETUPS if s.key in c.summaries and s.key not in apart]
    colours = dict(zip(keys, plot.COLOURS, strict=False))
    for inflight in (1, compare.PIPELINE):
        series = []
        for key in keys:
            cells = sorted(
                (cell, s) for cell, s in c.summaries[key].items() if cell.inflight == inflight
            )
            for dashed, value in ((False, Summary.p50_ms), (True, Summary.p99_ms)):
                series.append(
                    plot.Series(
                        LABELS[key],
                        [(cell.room, value.fget(s)) for cell, s in cells],  # type: ignore[attr-defined]
                        colours[key],
                        dashed,
                    )
                )
        title = "one message in flight" if inflight == 1 else f"{inflight} messages in flight"
        panels.append(plot.Panel(title, series))
    return plot.chart(panels, "receivers in the room", "send → last receiver got it (ms)")


def render(
    c: Comparison,
    report: cost.CostReport | None,
    host: dict[str, str],
    chat_report: chat.ChatReport | None = None,
    issue23: str = "",
) -> str:
    skipped = "".join(f"\n- **{LABELS[k]}**: skipped: {why}" for k, why in c.skipped.items())
    return f"""# Performance

Written by `make bench` (about {c.wall_s / 60:.0f} minutes for the comparison); do not edit by
hand, except the last section ("Measured by hand"), which it keeps. `make cost` prints the cost section alone. Where the gateway's and a worker's time
goes is in [profile.md](profile.md).

## The machine

{host["cores"]} cores, {host["cpu"]}, Python {host["python"]}, {host["system"]}; run on
{host["date"]}. Load average at the start: {host["load"]}. Other work on the machine
shares the cores: compare the spread of the rounds before reading a ratio.

## What was measured

The same plain-boto3 broadcast handler ([bench/broadcast/handler.py](../bench/broadcast/handler.py):
a DynamoDB connection table keyed by connection id, a room index, one
`post_to_connection` per receiver, the endpoint from `domainName` and `stage`) on every
emulator, deployed from its own description: [template.yaml](../bench/broadcast/template.yaml)
for ours, [serverless.yml](../bench/broadcast/serverless.yml) for serverless-offline, boto3
calls for MiniStack. The same broadcast in Node.js
([bench/broadcast-node/handler.mjs](../bench/broadcast-node/handler.mjs), the AWS SDK for
JavaScript v3) runs on ours ([template.yaml](../bench/broadcast-node/template.yaml)), on
serverless-offline (in its own process, [serverless.yml](../bench/broadcast-node/serverless.yml))
and on MiniStack (the SDK bundled in its zip). A load generator in its own process opens rooms of 10, 100 and 1,000
receivers and 8 senders, then broadcasts: one message in flight, or one from each of 8
senders at once. A message's latency runs from its send to the moment its last receiver has
it. Each run lasts {c.seconds:g} s (at least 3 messages, 8 when pipelined); {c.rounds}
interleaved rounds, each running every setup on a cell before the next cell, in rotating
order. CPU is the server's whole process tree (every process it started, from /proc), per
1,000 deliveries; memory is the tree's resident set, sampled every 0.2 s.

The floor is a `websockets` server that relays each message itself; its figures are bound
by the Python load generator as much as by the server. The bound is boto3's
`post_to_connection` alone, one thread per message in flight, against an HTTPS server that
only answers 200: its CPU column is the posting client's, the least any handler that posts
one receiver after another can spend. It runs on the Python ours runs the handler's
`python3.12` on, with the same boto3 (its version column says which).
{skipped}

## Setups

{setups_section(c)}

## Results

{results_section(c)}

![Latency against room size]({PLOT_NAME})

## Ratios

{ratios_section(c)}

"Per busy core" compares CPU per delivery: the bound's client CPU per 1,000 posts divided by
our whole tree's CPU per 1,000 deliveries.

The Node.js handler, on ours and on the peers that run Node.js:

{node_ratios_section(c)}

{targets_section(c, chat_report)}

### What the inspector costs

The inspector's record is on by default; the same emulator with `--no-inspector` ran
beside it in every round (no inspector page was open in either).

{inspector_section(c)}

{chat.section(chat_report) if chat_report else ""}
{issue23}
## Cost per message

{cost_section(report) if report else "Not run."}
"""


BY_HAND = "## Measured by hand"  # this section and what follows survive a rewrite


def write(
    c: Comparison,
    report: cost.CostReport | None,
    host: dict[str, str],
    chat_report: chat.ChatReport | None = None,
    issue23: str = "",
) -> Path:
    """Write docs/performance.md; ``issue23`` is :func:`bench.issue23_report.section`'s."""
    DOCS.mkdir(exist_ok=True)
    (DOCS / PLOT_NAME).write_text(latency_plot(c))
    path = DOCS / "performance.md"
    old = path.read_text() if path.is_file() else ""
    kept = old[old.index(BY_HAND) :] if BY_HAND in old else ""  # not measured here yet
    text = render(c, report, host, chat_report, issue23)
    path.write_text(text.rstrip("\n") + "\n\n" + kept if kept else text)
    return path
