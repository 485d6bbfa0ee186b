"""What several resources' serializers share: slugs that name a profile or a team, reasons."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from controlpanel.selectors.profiles import all_profiles
from controlpanel.selectors.teams import all_teams

# Why someone asks for something (an approval request, a decision): the same bound everywhere.
REASON_MAX_CHARS = 2000


def profile_slug_field(**options: Any) -> serializers.SlugRelatedField[Any]:
    """A connection profile named by its slug."""
    return serializers.SlugRelatedField(slug_field="slug", queryset=all_profiles(), **options)


def team_slug_field(**options: Any) -> serializers.SlugRelatedField[Any]:
    """A team named by its slug."""
    return serializers.SlugRelatedField(slug_field="slug", queryset=all_teams(), **options)


def reason_field(**options: Any) -> serializers.CharField:
    """An optional reason in words (blank when none is given)."""
    return serializers.CharField(
        required=False, allow_blank=True, default="", max_length=REASON_MAX_CHARS, **options
    )


def username_or_none(user: Any) -> str | None:
    """The user's username, or None where there is no user."""
    return user.get_username() if user else None
