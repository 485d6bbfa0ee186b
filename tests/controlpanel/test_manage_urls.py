"""The management URLs keep their names and paths, and each is served by its area's module."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import resolve, reverse

# name -> (path, module of controlpanel.views.manage serving it, URL kwargs)
MANAGE_URLS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "index": ("/manage/", "index", {}),
    "profiles": ("/manage/profiles/", "profiles", {}),
    "profile_create": ("/manage/profiles/new/", "profiles", {}),
    "profile_edit": ("/manage/profiles/p/edit/", "profiles", {"slug": "p"}),
    "profile_delete": ("/manage/profiles/p/delete/", "profiles", {"slug": "p"}),
    "profile_test": ("/manage/profiles/p/test/", "profiles", {"slug": "p"}),
    "users": ("/manage/users/", "users", {}),
    "user_create": ("/manage/users/new/", "users", {}),
    "user": ("/manage/users/7/", "users", {"user_id": 7}),
    "user_edit": ("/manage/users/7/edit/", "users", {"user_id": 7}),
    "user_password": ("/manage/users/7/password/", "users", {"user_id": 7}),
    "teams": ("/manage/teams/", "teams", {}),
    "team_create": ("/manage/teams/new/", "teams", {}),
    "team": ("/manage/teams/t/", "teams", {"slug": "t"}),
    "team_edit": ("/manage/teams/t/edit/", "teams", {"slug": "t"}),
    "member_add": ("/manage/teams/t/members/add/", "members", {"slug": "t"}),
    "member_candidates": ("/manage/teams/t/members/candidates/", "members", {"slug": "t"}),
    "member_remove": (
        "/manage/teams/t/members/7/remove/",
        "members",
        {"slug": "t", "user_id": 7},
    ),
    "member_role": ("/manage/teams/t/members/7/role/", "members", {"slug": "t", "user_id": 7}),
    "grant_add": ("/manage/teams/t/grants/add/", "grants", {"slug": "t"}),
    "grant_preview": ("/manage/teams/t/grants/preview/", "grants", {"slug": "t"}),
    "grant_remove": ("/manage/teams/t/grants/3/remove/", "grants", {"slug": "t", "grant_id": 3}),
    "subscription_create": (
        "/manage/teams/t/notifications/new/",
        "notifications",
        {"slug": "t"},
    ),
    "subscription_edit": (
        "/manage/teams/t/notifications/5/edit/",
        "notifications",
        {"slug": "t", "subscription_id": 5},
    ),
    "subscription_delete": (
        "/manage/teams/t/notifications/5/delete/",
        "notifications",
        {"slug": "t", "subscription_id": 5},
    ),
    "subscription_test": (
        "/manage/teams/t/notifications/5/test/",
        "notifications",
        {"slug": "t", "subscription_id": 5},
    ),
}


@pytest.mark.parametrize("name", sorted(MANAGE_URLS))
def test_manage_url_keeps_its_path_and_resolves_into_the_package(name: str) -> None:
    path, module, kwargs = MANAGE_URLS[name]
    assert reverse(f"manage:{name}", kwargs=kwargs) == path
    match = resolve(path)
    assert match.view_name == f"manage:{name}"
    assert match.func.__module__ == f"controlpanel.views.manage.{module}"


def test_every_manage_url_is_listed_here() -> None:
    from controlpanel import urls_manage

    assert {pattern.name for pattern in urls_manage.urlpatterns} == set(MANAGE_URLS)
