"""The overview for panel admins and audit reviewers: runs per day, teams, busiest DAGs.

Every figure counts the panel's own Run rows (what it triggered and what its poller saw
in Airflow), never Airflow itself. Days are whole days in the panel's time zone.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import BooleanField, Count, ExpressionWrapper, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from controlpanel.models import AirflowProfile, Run
from controlpanel.permissions import Access
from controlpanel.selectors.dates import day_start

DAYS = 14
TOP_DAYS = 30
TOP_COUNT = 10
FAILURE_DAYS = 7
FAILURE_LIMIT = 50
OUTSIDE = "Outside the panel"
NO_TEAM = "No team"
KIND_OF_STATE = {
    "success": "success",
    "failed": "failed",
    "running": "running",
    "queued": "queued",
}


@dataclass
class DayCounts:
    """How many runs began on one day, by state family (success, failed, ... other)."""

    day: date
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Runs of the day in all states."""
        return sum(self.counts.values())


@dataclass
class TeamRow:
    """One team's runs per day (the runs started by its members), oldest day first."""

    name: str
    per_day: list[int]

    @property
    def total(self) -> int:
        """The team's runs over all the days."""
        return sum(self.per_day)


def days_back(count: int, today: date | None = None) -> list[date]:
    """The last ``count`` days up to today (panel time zone), oldest first."""
    last = today or timezone.localdate()
    return [last - timedelta(days=back) for back in range(count - 1, -1, -1)]


def _since(days: list[date]) -> datetime:
    return day_start(days[0])


def _by_day(runs: QuerySet[Run]) -> QuerySet[Any]:
    """``runs`` with ``day``: the date they were created on in the panel's time zone."""
    return runs.annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))


def runs_per_day(access: Access, days: list[date]) -> list[DayCounts]:
    """Runs per day by state family over ``days`` (one query)."""
    result = {day: DayCounts(day) for day in days}
    runs = access.visible_runs().filter(created_at__gte=_since(days)).order_by()
    for row in _by_day(runs).values("day", "state").annotate(n=Count("id")):
        counts = result.get(row["day"])
        if counts is not None:
            kind = KIND_OF_STATE.get(row["state"], "other")
            counts.counts[kind] = counts.counts.get(kind, 0) + row["n"]
    return list(result.values())


def runs_per_team(access: Access, days: list[date]) -> list[TeamRow]:
    """Runs per day by the team of the person who started them (one query).

    A person in two teams counts for both; runs started by a panel user in no team count
    as "No team", runs the panel did not start (Airflow's schedule, its UI) as "Outside
    the panel". Teams with no run in the period are left out.
    """
    by_user = ExpressionWrapper(Q(triggered_by__isnull=False), output_field=BooleanField())
    runs = access.visible_runs().filter(created_at__gte=_since(days)).order_by()
    rows = (
        _by_day(runs)
        .annotate(by_user=by_user)
        .values("day", "by_user", "triggered_by__team_memberships__team__name")
        .annotate(n=Count("id"))
    )
    position = {day: index for index, day in enumerate(days)}
    per_team: dict[str, list[int]] = defaultdict(lambda: [0] * len(days))
    for row in rows:
        if row["day"] not in position:
            continue
        name = row["triggered_by__team_memberships__team__name"]
        label = name or (NO_TEAM if row["by_user"] else OUTSIDE)
        per_team[label][position[row["day"]]] += row["n"]
    teams = sorted(n for n in per_team if n not in (NO_TEAM, OUTSIDE))
    order = [*teams, *(n for n in (NO_TEAM, OUTSIDE) if n in per_team)]
    return [TeamRow(name, per_team[name]) for name in order]


def busiest_dags(access: Access, today: date | None = None) -> list[dict[str, Any]]:
    """The DAGs with the most runs over the last ``TOP_DAYS`` days (two queries).

    Each row: profile name and slug, dag id, runs, those started in the panel, failed.
    Grouped by the run's own columns (profile id, DAG id), the profiles' names read after.
    """
    since = _since(days_back(TOP_DAYS, today))
    runs = access.visible_runs().filter(created_at__gte=since).order_by()
    rows = runs.values("profile_id", "dag_id").annotate(
        runs=Count("id"),
        from_panel=Count("id", filter=~Q(source=Run.Source.AIRFLOW)),
        failed=Count("id", filter=Q(state="failed")),
    )
    top: list[dict[str, Any]] = [
        dict(row) for row in rows.order_by("-runs", "profile_id", "dag_id")[:TOP_COUNT]
    ]
    profiles = AirflowProfile.objects.filter(pk__in={row["profile_id"] for row in top})
    names = {pk: (name, slug) for pk, name, slug in profiles.values_list("pk", "name", "slug")}
    for row in top:
        row["profile__name"], row["profile__slug"] = names[row["profile_id"]]
    return top


@dataclass
class Failures:
    """The failed runs of the last days, newest first (at most ``FAILURE_LIMIT``)."""

    runs: list[Run]
    count: int


def failures_this_week(access: Access) -> Failures:
    """Runs that failed over the last ``FAILURE_DAYS`` days (two queries: count, list)."""
    since = timezone.now() - timedelta(days=FAILURE_DAYS)
    failed = access.visible_runs().filter(state="failed", created_at__gte=since)
    runs = list(failed.order_by("-created_at", "-id")[:FAILURE_LIMIT])
    count = len(runs) if len(runs) < FAILURE_LIMIT else failed.count()
    return Failures(runs, count)
