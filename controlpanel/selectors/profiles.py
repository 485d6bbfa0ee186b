"""Reads of connection profiles: the API's list and lookups, the admin pages, readiness."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404

from controlpanel.models import AirflowProfile
from controlpanel.permissions import Access


def all_profiles() -> QuerySet[AirflowProfile]:
    """Every profile: what a grant or a subscription may name by its slug."""
    return AirflowProfile.objects.all()


def visible_profiles_by_name(access: Access) -> QuerySet[AirflowProfile]:
    """The profiles ``access`` has a grant on (every one for panel admins), by name."""
    return access.visible_profiles().order_by("name")


def visible_profile(access: Access, slug: str) -> AirflowProfile:
    """The profile if ``access`` may see it, else 404 (the same as for one that does not exist)."""
    profile = access.visible_profiles().filter(slug=slug).first()
    if profile is None:
        raise Http404("No such connection profile.")
    return profile


def profiles_with_grant_counts() -> QuerySet[AirflowProfile]:
    """Every profile by name, each with ``grant_count`` (the admin list; one query)."""
    return AirflowProfile.objects.annotate(grant_count=Count("grants")).order_by("name")


def profile_named(slug: str) -> AirflowProfile:
    """The profile with this slug, else 404 (the admin pages, which panel admins alone see)."""
    return get_object_or_404(AirflowProfile, slug=slug)


@dataclass(frozen=True)
class ProfileHoldings:
    """What deleting a profile takes with it: its catalog DAGs, runs and grants."""

    dag_count: int
    run_count: int
    grant_count: int


def profile_holdings(profile: AirflowProfile) -> ProfileHoldings:
    """How many DAGs, runs and grants hang on ``profile`` (three counts)."""
    return ProfileHoldings(
        dag_count=profile.dags.count(),
        run_count=profile.runs.count(),
        grant_count=profile.grants.count(),
    )


def active_profiles_with_polls() -> QuerySet[AirflowProfile]:
    """The active profiles, each with its ``poll_status`` (absent before the first poll)."""
    return AirflowProfile.objects.filter(is_active=True).select_related("poll_status")


def active_visible_profiles(access: Access) -> list[AirflowProfile]:
    """The switched-on profiles the user sees DAGs of (the catalog's profile filter)."""
    return list(access.visible_profiles().filter(is_active=True))
