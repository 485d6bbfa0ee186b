"""The management start page."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from controlpanel.permissions import access_for
from controlpanel.views.manage.common import may_see_teams


@login_required
@require_safe
def index(request: HttpRequest) -> HttpResponse:
    """What the user may manage here: profiles, teams, or nothing."""
    access = access_for(request.user)
    context = {
        "can_manage_profiles": access.can_manage_profiles,
        "may_see_teams": may_see_teams(access),
        "can_manage_users": access.can_manage_users,
    }
    return render(request, "manage/index.html", context)
