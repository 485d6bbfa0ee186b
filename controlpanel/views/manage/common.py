"""What the management views share: who may see which page.

A service's refusal (``ActionDenied``, already audited) is a PermissionDenied: Django
answers it with its 403 page by itself.
"""

from __future__ import annotations

from typing import ParamSpec

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_http_methods

from controlpanel.models import Team, TeamMembership
from controlpanel.permissions import Access, access_for

P = ParamSpec("P")

require_form_methods = require_http_methods(["GET", "HEAD", "POST"])


def profile_manager(request: HttpRequest) -> Access:
    """The access of a panel admin; everyone else may not see profiles at all (404)."""
    access = access_for(request.user)
    if not access.can_manage_profiles:
        raise Http404("No such page.")
    return access


def user_manager(request: HttpRequest) -> Access:
    """The access of a panel admin; everyone else may not see the user pages at all (404)."""
    access = access_for(request.user)
    if not access.can_manage_users:
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
