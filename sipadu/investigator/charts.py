"""Simple bar charts drawn on the server as inline SVG (issue 19): no script, no style
attribute (the staff portal's Content-Security-Policy allows neither), colours from
classes in sipadu/static/sipadu.css. This module only computes the geometry; the
template (staff/_chart.html) draws it, each bar with a ``<title>`` and the page a text
table of the same figures beside it (WCAG 2.1, 1.1.1: a chart is no text alternative)."""

from collections.abc import Sequence
from dataclasses import dataclass

WIDTH = 720
HEIGHT = 240
LEFT = 44  # room for the scale's numbers
BOTTOM = 28  # room for the bars' labels
TOP = 12


@dataclass(frozen=True)
class Segment:
    """One part of a bar: its CSS class, its rectangle (SVG user units) and its words."""

    css: str
    x: float
    y: float
    width: float
    height: float
    title: str


@dataclass(frozen=True)
class Bar:
    label: str
    centre: float
    segments: list[Segment]


@dataclass(frozen=True)
class Chart:
    """A stacked bar chart: ``ticks`` are (y, number) of the scale, ``legend`` (css,
    words) in the series' order, ``baseline`` the y of zero."""

    width: int
    height: int
    baseline: float
    bars: list[Bar]
    ticks: list[tuple[float, int]]
    legend: list[tuple[str, str]]


def stacked_bars(labels: Sequence[str], series: Sequence[tuple[str, str, Sequence[int]]]) -> Chart:
    """A bar per label, stacked from the bottom in the order of ``series``: (css class,
    words, one count per label). Counts are drawn to one scale from 0 to the highest
    bar (at least 1)."""
    totals = [sum(values[i] for _css, _words, values in series) for i in range(len(labels))]
    top = max([*totals, 1])
    plot = HEIGHT - TOP - BOTTOM
    baseline = float(HEIGHT - BOTTOM)
    slot = (WIDTH - LEFT) / max(len(labels), 1)
    width = slot * 0.6
    bars = []
    for i, label in enumerate(labels):
        x = LEFT + slot * i + (slot - width) / 2
        y = baseline
        segments = []
        for css, words, values in series:
            height = plot * values[i] / top
            y -= height
            if values[i]:
                segments.append(Segment(css, x, y, width, height, f"{label}: {words} {values[i]}"))
        bars.append(Bar(label, x + width / 2, segments))
    ticks = sorted({0, top // 2, top})
    return Chart(
        WIDTH,
        HEIGHT,
        baseline,
        bars,
        [(baseline - plot * t / top, t) for t in ticks],
        [(css, words) for css, words, _values in series],
    )
