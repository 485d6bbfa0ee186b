"""The overview for panel admins and audit reviewers: every run at a glance."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from controlpanel.permissions import access_for
from controlpanel.selectors import overview as figures


def overview_link(request: HttpRequest) -> dict[str, Any]:
    """Template context: whether the navigation shows the Overview link."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    # A callable: the template asks only when it draws the navigation (partials never do).
    return {"may_see_overview": lambda: access_for(user).can_see_overview}


@login_required
@require_safe
def overview(request: HttpRequest) -> HttpResponse:
    """Runs per day by state and by team, the busiest DAGs and this week's failures.

    Only for panel admins and audit reviewers; anyone else gets the 404 of a page that
    does not exist for them.
    """
    access = access_for(request.user)
    if not access.can_see_overview:
        raise Http404("No such page.")
    days = figures.days_back(figures.DAYS)
    per_day = figures.runs_per_day(access, days)
    context = {
        "days": days,
        "per_day": per_day,
        "per_day_total": sum(d.total for d in per_day),
        "teams": figures.runs_per_team(access, days),
        "busiest": figures.busiest_dags(access),
        "failures": figures.failures_this_week(access),
        "top_days": figures.TOP_DAYS,
        "failure_days": figures.FAILURE_DAYS,
        "failure_limit": figures.FAILURE_LIMIT,
        "no_team": figures.NO_TEAM,
        "outside": figures.OUTSIDE,
    }
    return render(request, "overview.html", context)
