"""URL routes of the management pages, mounted at /manage/."""

from django.urls import path

from controlpanel.views.manage import grants, index, members, notifications, profiles, teams, users

app_name = "manage"

urlpatterns = [
    path("", index.index, name="index"),
    path("profiles/", profiles.profile_list, name="profiles"),
    path("profiles/new/", profiles.profile_create, name="profile_create"),
    path("profiles/<slug:slug>/edit/", profiles.profile_edit, name="profile_edit"),
    path("profiles/<slug:slug>/delete/", profiles.profile_delete, name="profile_delete"),
    path("profiles/<slug:slug>/test/", profiles.profile_test, name="profile_test"),
    path("users/", users.user_list, name="users"),
    path("users/new/", users.user_create, name="user_create"),
    path("users/<int:user_id>/", users.user_detail, name="user"),
    path("users/<int:user_id>/edit/", users.user_edit, name="user_edit"),
    path("users/<int:user_id>/password/", users.user_password, name="user_password"),
    path("teams/", teams.team_list, name="teams"),
    path("teams/new/", teams.team_create, name="team_create"),
    path("teams/<slug:slug>/", teams.team_detail, name="team"),
    path("teams/<slug:slug>/edit/", teams.team_edit, name="team_edit"),
    path("teams/<slug:slug>/members/add/", members.member_add, name="member_add"),
    path(
        "teams/<slug:slug>/members/candidates/",
        members.member_candidates,
        name="member_candidates",
    ),
    path(
        "teams/<slug:slug>/members/<int:user_id>/remove/",
        members.member_remove,
        name="member_remove",
    ),
    path("teams/<slug:slug>/members/<int:user_id>/role/", members.member_role, name="member_role"),
    path("teams/<slug:slug>/grants/add/", grants.grant_add, name="grant_add"),
    path("teams/<slug:slug>/grants/preview/", grants.grant_preview, name="grant_preview"),
    path(
        "teams/<slug:slug>/grants/<int:grant_id>/remove/",
        grants.grant_remove,
        name="grant_remove",
    ),
    path(
        "teams/<slug:slug>/notifications/new/",
        notifications.subscription_create,
        name="subscription_create",
    ),
    path(
        "teams/<slug:slug>/notifications/<int:subscription_id>/edit/",
        notifications.subscription_edit,
        name="subscription_edit",
    ),
    path(
        "teams/<slug:slug>/notifications/<int:subscription_id>/delete/",
        notifications.subscription_delete,
        name="subscription_delete",
    ),
    path(
        "teams/<slug:slug>/notifications/<int:subscription_id>/test/",
        notifications.subscription_test,
        name="subscription_test",
    ),
]
