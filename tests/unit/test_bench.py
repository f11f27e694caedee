"""The bench's own arithmetic: item sizes, capacity units, percentiles, the cost model."""

from __future__ import annotations

import pytest

from bench import compare, cost, plot
from bench.meter import Call, Window, attribute_size, item_size


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
