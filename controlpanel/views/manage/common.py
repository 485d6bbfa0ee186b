"""What the management views share: who may see which page.

A service's refusal (``ActionDenied``, already audited) is a PermissionDenied: Django
answers it with its 403 page by itself.
"""

from __future__ import annotations

from typing import ParamSpec

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.views.decorators.http import require_http_methods

from controlpanel.models import Team
from controlpanel.permissions import Access, access_for

P = ParamSpec("P")

require_form_methods = require_http_methods(["GET", "HEAD", "POST"])


def profile_manager(request: HttpRequest) -> Access:
    """The access of a panel admin; everyone else gets a 403 saying so."""
    access = access_for(request.user)
    access.require_profile_management()
    return access


def user_manager(request: HttpRequest) -> Access:
    """The access of a panel admin; everyone else gets a 403 saying so."""
    access = access_for(request.user)
    access.require_user_management()
    return access


def may_see_teams(access: Access) -> bool:
    """Panel admins, and team admins of at least one team."""
    return access.can_manage_anything()


def managed_team(request: HttpRequest, slug: str) -> Team:
    """The team if the user manages its members (panel or team admin); see get_managed_team."""
    return access_for(request.user).get_managed_team(slug)


def forbid_get_unless(allowed: bool, request: HttpRequest) -> None:
    """A GET of a form its viewer may not submit is refused without an audit event."""
    if request.method != "POST" and not allowed:
        raise PermissionDenied("Only panel administrators may do this.")
