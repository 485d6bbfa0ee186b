"""Run history drawn on the server: state strips and inline SVG charts (no script, no CDN).

``{% load charts %}``, then ``{% state_strip history "Last runs of X" %}``,
``{% duration_chart history %}`` or ``{% runs_by_day_chart days %}``. This module only
computes geometry and words; the templates in ``templates/charts/`` draw them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from controlpanel.selectors.history import RunHistory, RunPoint, duration_words
from controlpanel.views.listing import badge

register = template.Library()

# A chart's drawing area in viewBox units (the SVG scales to the page's width).
WIDTH, HEIGHT = 640, 200
LEFT, RIGHT, TOP, BOTTOM = 72, 12, 24, 36
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
UNKNOWN_BAR = 4  # a run without a duration (not finished) still gets a mark
STATE_KIND = {
    "success": "success",
    "failed": "failed",
    "upstream_failed": "failed",
    "running": "running",
    "restarting": "running",
    "queued": "queued",
    "scheduled": "queued",
}
KIND_ORDER = ("success", "failed", "running", "queued", "other")
KIND_WORDS = {
    "success": "Succeeded",
    "failed": "Failed",
    "running": "Running",
    "queued": "Queued",
    "other": "Other",
}


def state_kind(state: str) -> str:
    """The colour family of a run state: success, failed, running, queued or other."""
    return STATE_KIND.get(state, "other")


def when_text(point: RunPoint) -> str:
    """When the run started, in the panel's time zone."""
    return timezone.localtime(point.when).strftime("%Y-%m-%d %H:%M")


def point_text(point: RunPoint) -> str:
    """One run in words: "Failed, 2026-11-30 01:02, took 3 min 20 s"."""
    took = f"took {point.duration}" if point.duration else "no duration yet"
    if not point.duration and point.finished:
        took = "duration unknown"  # Airflow never said when it started or ended
    return f"{badge(point.state).label}, {when_text(point)}, {took}"


PLACEHOLDER_PK = 987654321


def run_url_maker() -> Callable[[int], str]:
    """A function pk -> the run page's URL, reversing the route once (a strip has hundreds)."""
    pattern = reverse("run", args=[PLACEHOLDER_PK])
    return lambda pk: pattern.replace(str(PLACEHOLDER_PK), str(pk))


@register.simple_tag
def state_strip(history: RunHistory, label: str, compact: bool = False) -> SafeString:
    """A row of small blocks, oldest to newest, each a link to its run named in words.

    Built in Python, not a template: the catalog draws 500 of these blocks a page.
    """
    if not history.points:
        return mark_safe("")
    url_of = run_url_maker()
    blocks = []
    for point in history.points:
        text = point_text(point)
        blocks.append((state_kind(point.state), url_of(point.pk), text, text))
    items = format_html_join(
        "",
        '<li><a class="strip__run strip--{}" href="{}" title="{}" aria-label="{}"></a></li>',
        blocks,
    )
    css = "strip strip--compact" if compact else "strip"
    whole = '<ol class="{}" aria-label="{}, oldest to newest">{}</ol>'
    return format_html(whole, css, label, items)


@dataclass(frozen=True)
class Bar:
    """One bar of a chart in viewBox units, with its colour family and its words."""

    x: float
    y: float
    width: float
    height: float
    kind: str
    text: str


def _duration_bars(points: list[RunPoint], longest: float) -> list[Bar]:
    slot = PLOT_W / max(len(points), 1)
    bars = []
    for index, point in enumerate(points):
        height: float = UNKNOWN_BAR
        if point.seconds is not None and longest > 0:
            height = max(point.seconds / longest * PLOT_H, 2)
        x = LEFT + index * slot + slot * 0.15
        y = TOP + PLOT_H - height
        bars.append(Bar(x, y, slot * 0.7, height, state_kind(point.state), point_text(point)))
    return bars


@register.inclusion_tag("charts/_duration_chart.html")
def duration_chart(history: RunHistory, chart_id: str = "duration-chart") -> dict[str, Any]:
    """Bars of the runs' durations, oldest to newest, coloured by state, with a median line."""
    points = history.points
    known = [p.seconds for p in points if p.seconds is not None]
    longest = max(known, default=0.0)
    median = history.median_seconds
    median_y = TOP + PLOT_H - median / longest * PLOT_H if median and longest else None
    summary = (
        f"Durations of the last {len(points)} runs, oldest to newest: "
        f"the longest took {duration_words(longest) or 'no time yet'}"
        + (f", the median of the finished runs is {history.median}." if history.median else ".")
    )
    return {
        "id": chart_id,
        "bars": _duration_bars(points, longest),
        "points": points,
        "rows": [(p, KIND_WORDS[state_kind(p.state)], point_text(p)) for p in points],
        "summary": summary,
        "longest": duration_words(longest) or "0 s",
        "median_y": median_y,
        "median": history.median,
        "oldest": when_text(points[0]) if points else "",
        "newest": when_text(points[-1]) if points else "",
        **_frame(),
    }


def _frame() -> dict[str, float]:
    """The chart frame's coordinates, for the templates' axes."""
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "top": TOP,
        "bottom": TOP + PLOT_H,
        "label_y": HEIGHT - 10,
        "mid_x": LEFT + PLOT_W / 2,
    }


def _day_bars(days: list[Any], tallest: int) -> tuple[list[Bar], list[tuple[float, str]]]:
    slot = PLOT_W / max(len(days), 1)
    bars, labels = [], []
    for index, day in enumerate(days):
        x = LEFT + index * slot + slot * 0.15
        y = TOP + PLOT_H
        for kind in KIND_ORDER:
            count = day.counts.get(kind, 0)
            if not count:
                continue
            height = count / tallest * PLOT_H
            y -= height
            text = f"{day.day:%a %d %b}: {count} {KIND_WORDS[kind].lower()}"
            bars.append(Bar(x, y, slot * 0.7, height, kind, text))
        labels.append((x + slot * 0.35, f"{day.day:%d %b}"))
    return bars, labels


@register.inclusion_tag("charts/_runs_by_day.html")
def runs_by_day_chart(days: list[Any], chart_id: str = "runs-by-day") -> dict[str, Any]:
    """Stacked bars of runs per day by state; ``days`` carry ``day``, ``counts``, ``total``."""
    tallest = max((d.total for d in days), default=0)
    bars, labels = _day_bars(days, tallest or 1)
    total = sum(d.total for d in days)
    summary = (
        f"Runs per day over the last {len(days)} days, stacked by state: {total} in all, "
        f"at most {tallest} on one day."
    )
    legend = [(kind, KIND_WORDS[kind]) for kind in KIND_ORDER]
    return {
        "id": chart_id,
        "bars": bars,
        "labels": labels,
        "summary": summary,
        "tallest": tallest,
        "legend": legend,
        **_frame(),
    }
