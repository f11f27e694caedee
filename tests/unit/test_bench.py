"""The bench's own arithmetic: item sizes, capacity units, percentiles, the cost model."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from bench import (
    bound_python,
    compare,
    cost,
    issue23,
    issue23_report,
    ministack,
    ministack_pytest,
    plot,
    processes,
    proctree,
    report,
    rounds,
)
from bench.issue23_echo import PROBES, Echo, RoundTrips
from bench.issue23_pytest import PytestCost
from bench.issue23_startup import Imports, Resident, Startup
from bench.meter import Call, Window, attribute_size, item_size
from bench.workload import probe_message
from emulator.interpreters import Python, Pythons
from emulator.launch import Plan
from emulator.runner import runtime_library


def test_item_size_counts_names_and_values_as_dynamodb_does() -> None:
    """A string is its UTF-8 length; the attribute's name counts too."""
    assert item_size({"id": {"S": "héllo"}}) == 2 + 6
    assert item_size({"ok": {"BOOL": True}, "n": {"NULL": True}}) == 2 + 1 + 1 + 1


def test_attribute_size_of_numbers_sets_and_maps() -> None:
    """Numbers take about one byte per two digits plus one; containers add 3 bytes."""
    assert attribute_size({"N": "12345"}) == 4
    assert attribute_size({"SS": ["ab", "cde"]}) == 5
    assert attribute_size({"M": {"k": {"S": "v"}}}) == 3 + 1 + 1 + 1


def test_percentile_picks_from_the_samples() -> None:
    """p50 and p99 of 1..100 are the middle and the top values."""
    values = [float(n) for n in range(1, 101)]
    assert compare.percentile(values, 0.5) in (50.0, 51.0)
    assert compare.percentile(values, 0.99) == 99.0


def test_summary_takes_the_median_round_and_cpu_per_thousand() -> None:
    """Three rounds: the median rate, and CPU seconds per 1,000 deliveries."""
    runs = [
        compare.Run(deliveries=1000, elapsed=e, messages=10, lost=0, latencies=[0.1], cpu_s=1.0)
        for e in (1.0, 2.0, 4.0)
    ]
    summary = compare.Summary(runs)
    assert summary.rate == pytest.approx(500.0)
    assert summary.cpu_per_1000 == pytest.approx(1.0)


TIMES = "\N{MULTIPLICATION SIGN}"


def _comparison(rates: dict[str, float]) -> compare.Comparison:
    """Every setup of ``rates`` at N=100 sequential, one round at that rate."""
    cell = compare.Cell(100, 1)
    run = {
        key: compare.Run(int(rate), 1.0, 10, 0, [0.01], cpu_s=1000 / rate)
        for key, rate in rates.items()
    }
    summaries = {key: {cell: compare.Summary([r])} for key, r in run.items()}
    return compare.Comparison(summaries, {}, {}, {}, {}, {}, {}, {}, {}, {}, 1, 1.0, 1.0)


def test_targets_hold_ours_to_the_boto3_bound_as_issue_23_says() -> None:
    """0.8 times the bound's deliveries/s at N=100: 900 of 1,000 is met, 700 missed."""
    for ours, verdict in ((900.0, "met"), (700.0, "missed")):
        table = report.targets_section(_comparison({"ours": ours, "bound": 1000.0}))
        label = f"(issue 23) ≥ 0.8{TIMES} the boto3 bound's deliveries/s, N=100 sequential"
        assert _row(table, label)[1:] == [f"{ours / 1000:.2f}{TIMES}", verdict]


def test_the_biggest_pipelined_cell_runs_in_one_round_only() -> None:
    """8 broadcasts to 1,000 run in the last round; every other cell in each round."""
    big = compare.Cell(1000, 8)
    assert [compare.runs_in(big, r) for r in range(compare.ROUNDS)].count(True) == 1
    assert all(compare.runs_in(compare.Cell(100, 8), r) for r in range(compare.ROUNDS))


def test_billed_duration_scales_cpu_to_the_functions_share_and_adds_waits() -> None:
    """10 ms of CPU at 256 MB, 3 DynamoDB calls and 20 posts (two rounds of 16)."""
    window = Window(
        calls=[Call("dynamodb", "Query")] * 3
        + [Call("apigatewaymanagementapi", "PostToConnection")] * 20
    )
    invocation = cost.Invocation("sendMessage", "send-message", window, cpu_s=0.010, wall_s=0)
    expected = 10 * 1769 / 256 + 3 * 5 + 2 * 15
    assert invocation.billed_ms == pytest.approx(expected, abs=1)
    assert invocation.messages == 21


def test_chart_draws_one_line_per_series() -> None:
    """Two series in a panel give two polylines in the SVG."""
    panel = plot.Panel(
        "one",
        [
            plot.Series("a", [(10, 1.0), (100, 10.0)], "#000"),
            plot.Series("a", [(10, 2.0), (100, 20.0)], "#000", dashed=True),
        ],
    )
    svg = plot.chart([panel], "x", "y")
    assert svg.startswith("<svg")
    assert svg.count("<polyline") == 2


DASH = "\N{EN DASH}"  # the report's ranges are typeset


def _issue23(ours_wall: list[float], ministack_wall: list[float]) -> issue23.Issue23:
    startup = {key: Startup() for key in ("ours-example", "ours-chat", "ours")}
    startup["ours-example"] = Startup([0.8, 0.9, 1.4], [90 * 2**20] * 3, [80 * 2**20] * 3, [1] * 3)
    startup["ours-chat"] = Startup([2.5, 3.0, 3.5], [200 * 2**20] * 3, [190 * 2**20] * 3, [2] * 3)
    startup["ministack"] = Startup(failed="Unavailable: not installed")
    ours = PytestCost(20, [8.0, 12.0], [2.0, 2.5], [70.0, 80.0], ours_wall)
    ministack = PytestCost(20, [300.0], [0.3], [280.0], ministack_wall)
    trips = {probe: {key: Echo() for key in setups} for probe, (_, setups) in PROBES.items()}
    trips["echo"]["ours"] = Echo([0.0019] * 98 + [0.01] * 2, [0.0018, 0.0020])
    trips["echo"]["bound"] = Echo([0.0008] * 100, [0.0008])
    trips["reply"]["ours"] = Echo([0.0009] * 100, [0.0008, 0.0010])
    trips["reply"]["ministack"] = Echo(failed="ValueError: reply 0: nothing came back in 30 s")
    trips["broadcast-1"]["ours"] = Echo([0.0031] * 100, [0.0031])
    trips["broadcast-1"]["bound"] = Echo([0.0017] * 100, [0.0017])
    echo = RoundTrips(trips, "Python 3.12.1 (the Python ours runs python3.12 on)")
    pytest_costs = {"ours": ours, "ministack": ministack}
    imports = {"ours-chat": Imports(4.0, 2.5, [("moto.server", 1.25), ("boto3", 0.5)])}
    resident = {
        "ours-example": Resident(104 * 2**20, [("[heap]", 60 * 2**20), ("_rust", 8 * 2**20)])
    }
    return issue23.Issue23(3, 100, startup, imports, resident, pytest_costs, echo, 200.0)


def _row(text: str, start: str) -> list[str]:
    line = next(line for line in text.splitlines() if line.startswith(f"| {start}"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_issue23_section_says_which_targets_this_run_met() -> None:
    text = issue23_report.section(_issue23([6.0, 7.0], [9.0]))
    assert _row(text, "spawn → Ready, the example project")[1:2] == [f"0.90 s (0.80{DASH}1.40)"]
    assert _row(text, "spawn → Ready, the example project")[-1] == "met"
    assert _row(text, "spawn → Ready, the chat")[-1] == "**missed**"
    assert _row(text, "idle memory, the example project")[-1] == "met"
    bench_stack = _row(text, "spawn → Ready, the bench's stack")
    assert bench_stack[1:4] == [DASH, DASH, "failed: Unavailable: not installed"]
    assert _row(text, "pytest, `isolation")[1] == f"10 ms (8{DASH}12)"
    assert _row(text, "pytest, `isolation")[-1] == "met"
    whole = _row(text, "pytest, 20 tests, whole run")
    assert whole[-2:] == ["well under MiniStack's (9.0 s)", "met"]
    echo = _row(text, "echo round trip, p50")
    assert echo[1] == f"1.90 ms (1.80{DASH}2.00)"
    assert echo[-1] == "**missed**"
    assert _row(text, "echo round trip, p99")[1] == "10.00 ms"
    assert _row(text, "the chat") == [
        "the chat",
        "4.00 s",
        "2.50 s",
        "`moto.server` 1.25 s, `boto3` 0.50 s",
    ]
    assert _row(text, "ours-example") == [
        "ours-example",
        "104.0 MB",
        "`[heap]` 60.0 MB, `_rust` 8.0 MB",
    ]


def test_issue23_section_reports_the_route_response_and_broadcast_to_one() -> None:
    """The reply has no bound (no boto3 call); broadcast to 1 has one, on the named Python;
    a peer that sent nothing back says so in its cell."""
    text = issue23_report.section(_issue23([6.0], [9.0]))
    reply = _row(text, "echo through a route response, p50")
    assert reply[1] == f"0.90 ms (0.80{DASH}1.00)"
    assert reply[3] == "failed: ValueError: reply 0: nothing came back in 30 s"
    assert reply[4:] == [f"{DASH} (no boto3 call)", DASH, DASH]
    alone = _row(text, "broadcast to 1 (DynamoDB query + post), p50")
    assert [alone[1], alone[4]] == ["3.10 ms", "1.70 ms"]
    assert alone[5:] == [DASH, DASH]
    assert "in-process on\n  Python 3.12.1 (the Python ours runs python3.12 on)" in text


def test_resident_memory_is_told_by_what_it_is_mapped_from() -> None:
    """This process's resident memory by owner adds up to its RSS; a compiled extension
    under site-packages is named by its package."""
    import yaml  # noqa: F401  # its C extension: site-packages/yaml/_yaml.cpython-*.so

    me = [os.getpid()]
    owners = proctree.resident_by_owner(me)
    assert abs(sum(owners.values()) - proctree.rss_bytes(me)) < 0.1 * proctree.rss_bytes(me)
    assert "yaml" in owners
    assert {"[heap]", "[anonymous]"} & set(owners)


def test_issue23_whole_run_is_held_to_the_issues_figure_without_ministack() -> None:
    text = issue23_report.section(_issue23([22.0], []))
    whole = _row(text, "pytest, 20 tests, whole run")
    assert whole[-2:] == ["well under MiniStack's (21.0 s)", "**missed**"]


def test_the_ministack_zip_posts_to_the_connections_endpoint() -> None:
    with zipfile.ZipFile(io.BytesIO(ministack_pytest._package())) as archive:
        source = archive.read("counter.py").decode()
    assert "os.environ['CONNECTIONS_ENDPOINT']" in source
    assert "domainName" not in source


def test_issue23_cells_not_run_say_so_without_failed() -> None:
    """A setup left out by --only reads "not run", not "failed"."""
    result = _issue23([6.0], [9.0])
    result.round_trips.by_probe["echo"]["serverless-offline"] = Echo(failed=rounds.NOT_SELECTED)
    echo = _row(issue23_report.section(result), "echo round trip, p50")
    assert echo[2] == rounds.NOT_SELECTED


def test_issue23_only_names_measures_or_their_setups() -> None:
    """--only pytest:ministack echo: MiniStack's pytest and every echo setup."""
    chosen = issue23.selection(["pytest:ministack", "echo", "broadcast-1:bound"])
    assert chosen == {
        "pytest": ("ministack",),
        "echo": issue23.MEASURES["echo"],
        "broadcast-1": ("bound",),
    }
    with pytest.raises(ValueError, match="reply:bound"):
        issue23.selection(["reply:bound"])  # no bound: the reply makes no call
    with pytest.raises(ValueError, match="pytest:nobody"):
        issue23.selection(["pytest:nobody"])


def test_interleave_rotates_and_drops_a_setup_that_fails() -> None:
    """Each round starts one setup later; a failure is kept in one line, its setup dropped."""
    results = {key: Echo() for key in ("a", "b", "c")}
    order: list[str] = []

    def measure(key: str) -> str:
        order.append(key)
        if key == "b":
            raise ValueError("refused\nby the server")
        return "ok"

    rounds.interleave(2, results, measure, "echo", say=lambda line: None)
    assert order == ["a", "b", "c", "c", "a"]
    assert results["b"].failed == "ValueError: refused by the server"


def test_the_cost_scenario_leaves_the_environment_as_it_found_it() -> None:
    """The handlers' AWS settings are gone after: processes started later don't inherit them."""
    before = dict(os.environ)
    with cost._as_in_lambda({"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:9"}):
        assert os.environ["AWS_ENDPOINT_URL_DYNAMODB"] == "http://127.0.0.1:9"
    assert dict(os.environ) == before


def _plan(python: Python, library: Path) -> Plan:
    return Plan("python3.12", "python", python, library)


def test_the_bound_runs_on_the_python_ours_runs_the_handler_on() -> None:
    """The emulator found a 3.12: the bound runs there, with that runtime's boto3 first
    on its path and no site-packages of its own, and says so."""
    found = Python(Path("/opt/py312/bin/python3.12"), (3, 12, 4))
    chosen = bound_python.choose("python3.12", _plan(found, Path("/cache/py312")), Path("/own"))
    assert chosen.command("bench.bound_client", "poster")[:3] == [
        "/opt/py312/bin/python3.12",
        "-S",
        "-m",
    ]
    assert chosen.env()["PYTHONPATH"].split(os.pathsep)[0] == "/cache/py312"
    assert chosen.label == "Python 3.12.4 (the Python ours runs python3.12 on)"


def test_without_that_python_the_bound_runs_on_the_benchs_own_and_says_so() -> None:
    """No 3.12 found: the emulator's plan is its own interpreter (the bench's), which the
    label must not pass off as the runtime's."""
    own = Python(Path("/venv/bin/python"), (3, 11, 7))
    chosen = bound_python.choose("python3.12", _plan(own, Path("/own")), Path("/own"))
    assert chosen.executable == Path("/venv/bin/python")
    assert chosen.label == ("Python 3.11.7 (the bench's own: no Python 3.12 found for python3.12)")


class _NoPythons(Pythons):
    """A machine with no other Python than the bench's own."""

    def find(self, minor: tuple[int, int]) -> Python | None:
        return None


def test_the_emulators_fallback_is_the_bounds_too(tmp_path: Path) -> None:
    """Asked on a machine with no Python 3.12, the emulator's launcher plans its own
    interpreter and runtime folder; the bound takes the same."""
    chosen = bound_python.find(tmp_path, _NoPythons())
    assert chosen.executable == Path(sys.executable)
    assert chosen.library == tmp_path / "runtime"
    assert (chosen.library / "boto3").exists()


def test_the_bench_template_names_the_runtime_the_bound_looks_for() -> None:
    assert bound_python.handler_runtime() == "python3.12"


def test_the_bound_client_needs_only_the_standard_library_and_boto3(tmp_path: Path) -> None:
    """Imported with no site-packages, only Lambda's runtime libraries and the bench on
    the path, it loads; none of the bench's own dependencies is imported."""
    library = runtime_library(tmp_path / "runtime")
    probe = "import bench.bound_client, json, sys; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-S", "-c", probe],
        env={**os.environ, "PYTHONPATH": f"{library}{os.pathsep}{processes.ROOT}"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    tops = {name.partition(".")[0] for name in json.loads(done.stdout)}
    assert not tops & {"websockets", "cryptography", "emulator", "moto", "yaml"}


def test_probe_messages_name_the_room_only_for_a_broadcast() -> None:
    """The data is what comes back; a broadcast goes to the sender's own room."""
    assert probe_message("echo", 3, "r1") == {"action": "echo", "data": "3 echo"}
    assert probe_message("broadcast", 0, "r1") == {
        "action": "broadcast",
        "data": "0 broadcast",
        "room": "r1",
    }


class _Routes:
    """An apigatewayv2 client that records the routes and route responses made."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def create_integration(self, **kwargs: Any) -> dict[str, str]:
        return {"IntegrationId": "i1"}

    def create_route(self, **kwargs: Any) -> dict[str, str]:
        self.calls.append(("route", kwargs))
        return {"RouteId": f"r-{kwargs['RouteKey']}"}

    def create_route_response(self, **kwargs: Any) -> dict[str, str]:
        self.calls.append(("route response", kwargs))
        return {"RouteResponseId": "rr1"}


def test_ministack_gets_the_reply_route_two_way_and_the_others_one_way() -> None:
    """A two-way route has the $default selection expression and its $default response."""
    apigw = _Routes()
    ministack.route_to(apigw, "api", "echo", "arn:fn", two_way=False)
    ministack.route_to(apigw, "api", "reply", "arn:fn", two_way=True)
    assert apigw.calls == [
        ("route", {"ApiId": "api", "RouteKey": "echo", "Target": "integrations/i1"}),
        (
            "route",
            {
                "ApiId": "api",
                "RouteKey": "reply",
                "Target": "integrations/i1",
                "RouteResponseSelectionExpression": "$default",
            },
        ),
        (
            "route response",
            {"ApiId": "api", "RouteId": "r-reply", "RouteResponseKey": "$default"},
        ),
    ]
