"""Charts drawn on the server as SVG: this module places the marks, the template
`admin/_chart.html` draws them. Colours come from classes in the stylesheet (the CSP
allows no inline style); every chart has a table with the same figures beside it."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 76, 12, 14, 34
_FRACTION = re.compile(r"[.,]\d{2}(?=\D*$)")


@dataclass
class Mark:
    """A bar (or a dot when `r` is set) with its tooltip and where it drills to."""

    x: float
    y: float
    w: float = 0.0
    h: float = 0.0
    css: str = ""
    title: str = ""
    href: str | None = None
    r: float = 0.0


@dataclass
class Chart:
    """Everything the template draws, in the coordinates of a WIDTH x HEIGHT box."""

    marks: list[Mark] = field(default_factory=list)
    lines: list[tuple[str, str]] = field(default_factory=list)  # (css, "x,y x,y ...")
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    x_labels: list[tuple[float, str]] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)  # (css, label)
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    top: int = TOP
    bottom: float = HEIGHT - BOTTOM
    right: float = WIDTH - RIGHT


def whole_money(text: str) -> str:
    """'€ 1.234,56' -> '€ 1.234': axis labels need no cents."""
    return _FRACTION.sub("", text)


def nice_step(top: float, ticks: int = 4) -> float:
    """A round step (1, 2 or 5 times a power of ten) giving about `ticks` steps to `top`."""
    if top <= 0:
        return 1.0
    raw = top / ticks
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return factor * power
    return 10 * power


def _scale(chart: Chart, top: float, low: float = 0.0) -> Callable[[float], float]:
    span = (top - low) or 1.0

    def y(value: float) -> float:
        return chart.bottom - (value - low) / span * (chart.bottom - chart.top)

    return y


def _ticks(chart: Chart, high: float, fmt: Callable[[float], str], low: float = 0.0) -> float:
    step = nice_step(high - low)
    top = max(step, math.ceil(high / step) * step) if high > 0 else step
    y = _scale(chart, top, low)
    value = low
    while value <= top + step / 1000:
        chart.y_ticks.append((round(y(value), 1), fmt(value)))
        value += step
    return top


def bars(
    labels: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[float]]],
    fmt: Callable[[float], str],
    hrefs: Sequence[str | None] | None = None,
    stacked: bool = False,
    titles: Sequence[str] | None = None,
    classes: Sequence[str] | None = None,
) -> Chart:
    """Bars per label: one per series side by side, or stacked. `series` holds
    (css class, legend label, values); `classes` gives each label's bars a class of its
    own instead."""
    chart = Chart(legend=[(css, name) for css, name, _values in series])
    count = max(len(labels), 1)
    totals = [sum(s[2][i] for s in series) for i in range(len(labels))]
    high = max(totals if stacked else [v for s in series for v in s[2]] or [0])
    top = _ticks(chart, high, fmt)
    y = _scale(chart, top)
    slot = (chart.right - chart.left) / count
    width = slot * 0.7 if stacked else slot * 0.8 / max(len(series), 1)
    for i, label in enumerate(labels):
        x0 = chart.left + slot * i + slot * (0.15 if stacked else 0.1)
        chart.x_labels.append((round(chart.left + slot * (i + 0.5), 1), label))
        base = 0.0
        for n, (css, name, values) in enumerate(series):
            value = values[i]
            lower, upper = (base, base + value) if stacked else (0.0, value)
            x = x0 if stacked else x0 + width * n
            title = f"{label}: {name} {fmt(value)}" if titles is None else titles[i]
            chart.marks.append(
                Mark(
                    x=round(x, 1),
                    y=round(y(upper), 1),
                    w=round(width, 1),
                    h=round(max(y(lower) - y(upper), 0.0), 1),
                    css=classes[i] if classes else css,
                    title=title,
                    href=hrefs[i] if hrefs else None,
                )
            )
            base = upper
    return chart


def lines(
    labels: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[float | None]]],
    fmt: Callable[[float], str],
    hrefs: Sequence[str | None] | None = None,
) -> Chart:
    """A line per series over the labels, a dot at each known value (a gap where None)."""
    chart = Chart(legend=[(css, name) for css, name, _values in series])
    known = [v for _css, _name, values in series for v in values if v is not None]
    top = _ticks(chart, max(known, default=0.0), fmt)
    y = _scale(chart, top)
    count = max(len(labels), 1)
    slot = (chart.right - chart.left) / count
    for i, label in enumerate(labels):
        chart.x_labels.append((round(chart.left + slot * (i + 0.5), 1), label))
    for css, name, values in series:
        points: list[str] = []
        for i, value in enumerate(values):
            if value is None:
                if len(points) > 1:
                    chart.lines.append((css, " ".join(points)))
                points = []
                continue
            x = round(chart.left + slot * (i + 0.5), 1)
            points.append(f"{x},{round(y(value), 1)}")
            chart.marks.append(
                Mark(
                    x=x,
                    y=round(y(value), 1),
                    r=4.0,
                    css=css,
                    title=f"{labels[i]}: {name} {fmt(value)}",
                    href=hrefs[i] if hrefs else None,
                )
            )
        if len(points) > 1:
            chart.lines.append((css, " ".join(points)))
    return chart


def calibration(points: Sequence[tuple[float, float, int]], label: str) -> Chart:
    """Predicted chance (x) against how often it happened (y), both 0-100%, with the
    diagonal a perfect prediction would follow; `points` are (predicted, observed, count)."""
    chart = Chart(height=300, legend=[("series-a", label)])
    chart.bottom = chart.height - BOTTOM
    chart.right = chart.left + (chart.bottom - chart.top) * 1.6
    y = _scale(chart, 1.0)

    def x(value: float) -> float:
        return chart.left + value * (chart.right - chart.left)

    for n in range(0, 11, 2):
        chart.y_ticks.append((round(y(n / 10), 1), f"{n * 10}%"))
        chart.x_labels.append((round(x(n / 10), 1), f"{n * 10}%"))
    chart.lines.append(("diagonal", f"{x(0)},{y(0)} {round(x(1), 1)},{round(y(1), 1)}"))
    for predicted, observed, count in points:
        chart.marks.append(
            Mark(
                x=round(x(predicted), 1),
                y=round(y(observed), 1),
                r=min(3.0 + math.sqrt(count) / 2, 12.0),
                css="series-a",
                title=f"{predicted:.0%} -> {observed:.0%} ({count})",
            )
        )
    return chart
