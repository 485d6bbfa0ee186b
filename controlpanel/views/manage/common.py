"""What the management views share: who may see which page, and the 403 for refusals."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_http_methods

from controlpanel.models import Team, TeamMembership
from controlpanel.permissions import Access, ActionDenied, access_for

P = ParamSpec("P")

require_form_methods = require_http_methods(["GET", "HEAD", "POST"])


def denied_as_403(view: Callable[P, HttpResponse]) -> Callable[P, HttpResponse]:
    """Answer a service's ActionDenied (already audited) with Django's 403.

    The one place the management views translate a refusal: once ActionDenied is itself a
    PermissionDenied, Django does this and the decorator can go.
    """

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> HttpResponse:
        try:
            return view(*args, **kwargs)
        except ActionDenied as exc:
            raise PermissionDenied(exc.message) from exc

    return wrapper


def profile_manager(request: HttpRequest) -> Access:
    """The access of a panel admin; everyone else may not see profiles at all (404)."""
    access = access_for(request.user)
    if not access.can_manage_profiles:
        raise Http404("No such page.")
    return access


def may_see_teams(access: Access) -> bool:
    """Panel admins, and team admins of at least one team."""
    return access.is_superuser or TeamMembership.Role.ADMIN in access.memberships().values()


def managed_team(request: HttpRequest, slug: str) -> Team:
    """The team if the user manages its members (panel or team admin), else 404."""
    team = get_object_or_404(Team, slug=slug)
    if not access_for(request.user).can_manage_members(team):
        raise Http404("No such team.")
    return team


def forbid_get_unless(allowed: bool, request: HttpRequest) -> None:
    """A GET of a form its viewer may not submit is refused without an audit event."""
    if request.method != "POST" and not allowed:
        raise PermissionDenied("Only panel administrators may do this.")
