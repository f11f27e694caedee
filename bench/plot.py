"""A small SVG line chart (log-log), so the report needs no plotting library."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

COLOURS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02")


@dataclass(frozen=True)
class Series:
    label: str
    points: Sequence[tuple[float, float]]  # (x, y), both > 0
    colour: str
    dashed: bool = False


@dataclass(frozen=True)
class Panel:
    title: str
    series: Sequence[Series]


def _ticks(low: float, high: float) -> list[float]:
    ticks = []
    for exponent in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1):
        for mantissa in (1, 2, 5):
            value = mantissa * 10.0**exponent
            if low <= value <= high:
                ticks.append(value)
    return ticks


def _label(value: float) -> str:
    return f"{value:,.0f}" if value >= 1 else f"{value:g}"


def chart(panels: Sequence[Panel], x_label: str, y_label: str, width: int = 900) -> str:
    """Panels side by side sharing a log y axis; a legend below."""
    height, top, bottom, left, gap = 400, 40, 60, 70, 40
    labels = list(dict.fromkeys(s.label for p in panels for s in p.series if not s.dashed))
    legend_rows = math.ceil(len(labels) / 2) + 1
    total_height = height + 22 * legend_rows + 10
    ys = [y for p in panels for s in p.series for _, y in s.points if y > 0]
    xs = [x for p in panels for s in p.series for x, _ in s.points if x > 0]
    if not ys or not xs:
        return f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="40"></svg>'
    y_low, y_high = 10 ** math.floor(math.log10(min(ys))), 10 ** math.ceil(math.log10(max(ys)))
    x_low, x_high = min(xs), max(xs)
    panel_width = (width - left - gap * (len(panels) - 1) - 20) / len(panels)
    plot_height = height - top - bottom
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{total_height}" '
        'font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{total_height}" fill="white"/>',
        f'<text x="16" y="{top + plot_height / 2}" transform="rotate(-90 16 '
        f'{top + plot_height / 2})" text-anchor="middle">{escape(y_label)}</text>',
    ]

    def y_at(y: float) -> float:
        share = (math.log10(y) - math.log10(y_low)) / (math.log10(y_high) - math.log10(y_low))
        return top + plot_height * (1 - share)

    for index, panel in enumerate(panels):
        x0 = left + index * (panel_width + gap)

        def x_at(x: float, x0: float = x0) -> float:
            span = math.log10(x_high) - math.log10(x_low) or 1
            return x0 + panel_width * (math.log10(x) - math.log10(x_low)) / span

        out.append(
            f'<rect x="{x0}" y="{top}" width="{panel_width}" height="{plot_height}" '
            'fill="none" stroke="#999"/>'
        )
        out.append(
            f'<text x="{x0 + panel_width / 2}" y="{top - 12}" text-anchor="middle" '
            f'font-weight="bold">{escape(panel.title)}</text>'
        )
        for tick in _ticks(y_low, y_high):
            y = y_at(tick)
            out.append(f'<line x1="{x0}" x2="{x0 + panel_width}" y1="{y}" y2="{y}" stroke="#eee"/>')
            if index == 0:
                out.append(
                    f'<text x="{x0 - 6}" y="{y + 4}" text-anchor="end">{_label(tick)}</text>'
                )
        for tick in sorted(set(xs)):
            x = x_at(tick)
            out.append(
                f'<text x="{x}" y="{top + plot_height + 18}" text-anchor="middle">'
                f"{_label(tick)}</text>"
            )
        out.append(
            f'<text x="{x0 + panel_width / 2}" y="{top + plot_height + 38}" '
            f'text-anchor="middle">{escape(x_label)}</text>'
        )
        for series in panel.series:
            points = [(x_at(x), y_at(y)) for x, y in series.points if x > 0 and y > 0]
            if not points:
                continue
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            dash = ' stroke-dasharray="6 4"' if series.dashed else ""
            out.append(
                f'<polyline points="{path}" fill="none" stroke="{series.colour}" '
                f'stroke-width="2"{dash}/>'
            )
            for x, y in points:
                out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{series.colour}"/>')
    colours = {s.label: s.colour for p in panels for s in p.series}
    for n, label in enumerate(labels):
        x = left + (n % 2) * 420
        y = height + 22 * (n // 2)
        out.append(
            f'<line x1="{x}" x2="{x + 24}" y1="{y}" y2="{y}" stroke="{colours[label]}" '
            'stroke-width="3"/>'
        )
        out.append(f'<text x="{x + 30}" y="{y + 4}">{escape(label)}</text>')
    y = height + 22 * (legend_rows - 1)
    out.append(
        f'<line x1="{left}" x2="{left + 24}" y1="{y}" y2="{y}" stroke="#333" stroke-width="2"/>'
    )
    out.append(f'<text x="{left + 30}" y="{y + 4}">p50</text>')
    out.append(
        f'<line x1="{left + 80}" x2="{left + 104}" y1="{y}" y2="{y}" stroke="#333" '
        'stroke-width="2" stroke-dasharray="6 4"/>'
    )
    out.append(f'<text x="{left + 110}" y="{y + 4}">p99</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
