"""Run history at a glance: recent runs with their durations, success rate and median.

The DAG page draws its last ``HISTORY_LENGTH`` runs, the catalog the last ``STRIP_LENGTH``
runs of each DAG of a page. Both read the panel's own Run rows, never Airflow.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import IntegerField
from django.db.models.expressions import RawSQL

from controlpanel.models import Dag, Run
from controlpanel.permissions import Access

HISTORY_LENGTH = 30
STRIP_LENGTH = 10
FINISHED_STATES = ("success", "failed")
POINT_FIELDS = ("pk", "profile_id", "dag_id", "dag_run_id", "state", "created_at")
TIME_FIELDS = ("start_date", "end_date")


def duration_seconds(start: datetime | None, end: datetime | None) -> float | None:
    """Seconds from start to end; None when either is unknown (not started or not finished)."""
    if start is None or end is None:
        return None
    return max((end - start).total_seconds(), 0.0)


def duration_words(seconds: float | None) -> str:
    """A duration as people say it: "45 s", "3 min 20 s", "2 h 5 min"; "" when unknown."""
    if seconds is None:
        return ""
    whole = round(seconds)
    if whole < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


@dataclass(frozen=True)
class RunPoint:
    """One run as a history shows it: its state, when it started and how long it took."""

    pk: int
    dag_run_id: str
    state: str
    when: datetime
    seconds: float | None  # None: not finished yet, or Airflow never said when it ran

    @property
    def finished(self) -> bool:
        """Succeeded or failed: the runs the success rate and the median count."""
        return self.state in FINISHED_STATES

    @property
    def duration(self) -> str:
        """The duration in words ("" when unknown)."""
        return duration_words(self.seconds)


def point_of(row: dict[str, Any]) -> RunPoint:
    """A RunPoint from a ``values()`` row of ``POINT_FIELDS`` and ``TIME_FIELDS``."""
    return RunPoint(
        pk=row["pk"],
        dag_run_id=row["dag_run_id"],
        state=row["state"],
        when=row["start_date"] or row["created_at"],
        seconds=duration_seconds(row["start_date"], row["end_date"]),
    )


@dataclass(frozen=True)
class RunHistory:
    """Recent runs oldest first, with what they add up to."""

    points: list[RunPoint]

    @property
    def finished(self) -> list[RunPoint]:
        """The runs that succeeded or failed."""
        return [p for p in self.points if p.finished]

    @property
    def succeeded(self) -> int:
        """How many runs succeeded."""
        return sum(1 for p in self.points if p.state == "success")

    @property
    def success_rate(self) -> float | None:
        """Succeeded / finished, from 0 to 1; None when no run finished yet."""
        finished = len(self.finished)
        return self.succeeded / finished if finished else None

    @property
    def success_percent(self) -> str:
        """The success rate as "87 %" ("" when no run finished)."""
        rate = self.success_rate
        return "" if rate is None else f"{rate * 100:.0f} %"

    @property
    def median_seconds(self) -> float | None:
        """The median duration of the finished runs that have one; None without any."""
        durations = [p.seconds for p in self.finished if p.seconds is not None]
        return statistics.median(durations) if durations else None

    @property
    def median(self) -> str:
        """The median duration in words ("" when unknown)."""
        return duration_words(self.median_seconds)


def dag_history(access: Access, dag: Dag, count: int = HISTORY_LENGTH) -> RunHistory:
    """The DAG's last ``count`` runs the user may see, oldest first (one query)."""
    runs = access.visible_runs().filter(profile_id=dag.profile_id, dag_id=dag.dag_id)
    rows = runs.order_by("-created_at", "-id").values(*POINT_FIELDS, *TIME_FIELDS)[:count]
    return RunHistory([point_of(row) for row in reversed(list(rows))])


# The id of a DAG's n-th newest run: a scalar subquery both SQLite and PostgreSQL answer
# with one probe of the (profile, dag_id, -created_at) index. Written once as SQL: the ORM's
# Subquery would compile the same text again for each of the ten positions, every page.
# Only the tables' own names are put in the text; the position is a bound parameter.
RUNS_TABLE, DAGS_TABLE = Run._meta.db_table, Dag._meta.db_table
NTH_NEWEST_RUN = (
    f"SELECT newer.id FROM {RUNS_TABLE} newer WHERE newer.profile_id = {DAGS_TABLE}.profile_id"  # noqa: S608
    f" AND newer.dag_id = {DAGS_TABLE}.dag_id ORDER BY newer.created_at DESC, newer.id DESC"
    " LIMIT 1 OFFSET %s"
)


def _nth_newest_run(n: int) -> RawSQL:
    return RawSQL(NTH_NEWEST_RUN, (n,), output_field=IntegerField())  # noqa: S611


def recent_runs(dags: Iterable[Dag], count: int = STRIP_LENGTH) -> dict[int, RunHistory]:
    """DAG pk -> its last ``count`` runs oldest first, for the DAGs of one page (two queries).

    The first query reads the page's DAGs with the ids of their ``count`` newest runs, one
    small index probe per DAG and slot (never every run of the DAGs); the second reads
    those runs.
    """
    page = {dag.pk: dag for dag in dags}
    if not page:
        return {}
    slots = {f"run_{n}": _nth_newest_run(n) for n in range(count)}
    rows = Dag.objects.filter(pk__in=list(page)).order_by().annotate(**slots)
    wanted: dict[int, int] = {}
    for row in rows.values("pk", *slots):
        wanted.update({row[slot]: row["pk"] for slot in slots if row[slot] is not None})
    found = Run.objects.filter(pk__in=list(wanted)).values(*POINT_FIELDS, *TIME_FIELDS)
    by_dag: dict[int, list[dict[str, Any]]] = {pk: [] for pk in page}
    for row in found:
        by_dag[wanted[row["pk"]]].append(row)
    return {
        pk: RunHistory(
            [point_of(r) for r in sorted(rows_, key=lambda r: (r["created_at"], r["pk"]))]
        )
        for pk, rows_ in by_dag.items()
    }
