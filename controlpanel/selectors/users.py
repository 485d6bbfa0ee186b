"""Reads for the user administration and API token pages (a few queries whatever the size)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Prefetch, Q, QuerySet

from controlpanel.models import ApiToken, TeamMembership
from controlpanel.permissions import is_auditor_expression

USER_STATES = (("active", "Active"), ("inactive", "Deactivated"))


def users_for_admin(search: str = "", state: str = "") -> QuerySet[Any]:
    """Users by username, with their teams, directory link and audit-reviewer flag.

    ``search`` matches username, email or name; ``state`` is "active", "inactive" or "".
    """
    users = (
        get_user_model()
        .objects.select_related("directory_account")
        .annotate(is_auditor=is_auditor_expression())
        .prefetch_related(
            Prefetch(
                "team_memberships",
                queryset=TeamMembership.objects.select_related("team").order_by("team__name"),
            )
        )
        .order_by("username")
    )
    search = search.strip()
    if search:
        users = users.filter(
            Q(username__icontains=search)
            | Q(email__icontains=search)
            | Q(first_name__icontains=search)
            | Q(last_name__icontains=search)
        )
    if state in ("active", "inactive"):
        users = users.filter(is_active=state == "active")
    return users


def tokens_of(user: Any) -> QuerySet[ApiToken]:
    """One user's API tokens, newest first, revoked and expired ones included."""
    return ApiToken.objects.filter(user=user).order_by("-created_at", "-id")
