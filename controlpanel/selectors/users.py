"""Reads for the user administration and API token pages and the API's users and tokens."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404

from controlpanel.models import ApiToken, TeamMembership
from controlpanel.permissions import Access, is_auditor_expression

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


def user_for_admin(user_id: int) -> Any:
    """One user as ``users_for_admin`` reads them (teams, directory link, roles), else 404."""
    user = users_for_admin().filter(pk=user_id).first()
    if user is None:
        raise Http404("No such user.")
    return user


def user_named(username: str, *, active_only: bool = False) -> Any | None:
    """The user with this username (only an active one if ``active_only``), or None."""
    users = get_user_model().objects.filter(username=username)
    if active_only:
        users = users.filter(is_active=True)
    return users.first()


def users_by_username() -> QuerySet[Any]:
    """Every user by username, with their groups (the API's user list)."""
    return get_user_model().objects.order_by("username").prefetch_related("groups")


def memberships_by_team(user: Any) -> QuerySet[TeamMembership]:
    """The user's team memberships by team slug, with their teams (one query)."""
    return user.team_memberships.select_related("team").order_by("team__slug")


def tokens_of(user: Any) -> QuerySet[ApiToken]:
    """One user's API tokens, newest first, revoked and expired ones included."""
    return ApiToken.objects.filter(user=user).order_by("-created_at", "-id")


def visible_tokens(access: Access) -> QuerySet[ApiToken]:
    """The tokens ``access`` may list: every one for panel admins, else their own."""
    tokens = ApiToken.objects.select_related("user")
    if not access.is_superuser:
        tokens = tokens.filter(user=access.user)
    return tokens


def manageable_token(access: Access, token_id: int) -> ApiToken:
    """The token if ``access`` may manage its owner's tokens, else 404 (as if it did not exist)."""
    token = ApiToken.objects.select_related("user").filter(pk=token_id).first()
    if token is None or not access.can_manage_tokens_of(token.user):
        raise Http404("No such API token.")
    return token
