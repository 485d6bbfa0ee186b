"""URL routes of the management pages, mounted at /manage/."""

from django.urls import path

from controlpanel.views import manage

app_name = "manage"

urlpatterns = [
    path("", manage.index, name="index"),
    path("profiles/", manage.profile_list, name="profiles"),
    path("profiles/new/", manage.profile_create, name="profile_create"),
    path("profiles/<slug:slug>/edit/", manage.profile_edit, name="profile_edit"),
    path("profiles/<slug:slug>/delete/", manage.profile_delete, name="profile_delete"),
    path("profiles/<slug:slug>/test/", manage.profile_test, name="profile_test"),
    path("teams/", manage.team_list, name="teams"),
    path("teams/new/", manage.team_create, name="team_create"),
    path("teams/<slug:slug>/", manage.team_detail, name="team"),
    path("teams/<slug:slug>/edit/", manage.team_edit, name="team_edit"),
    path("teams/<slug:slug>/members/add/", manage.member_add, name="member_add"),
    path(
        "teams/<slug:slug>/members/<int:user_id>/remove/",
        manage.member_remove,
        name="member_remove",
    ),
    path("teams/<slug:slug>/members/<int:user_id>/role/", manage.member_role, name="member_role"),
    path("teams/<slug:slug>/grants/add/", manage.grant_add, name="grant_add"),
    path("teams/<slug:slug>/grants/preview/", manage.grant_preview, name="grant_preview"),
    path(
        "teams/<slug:slug>/grants/<int:grant_id>/remove/",
        manage.grant_remove,
        name="grant_remove",
    ),
    path(
        "teams/<slug:slug>/notifications/new/",
        manage.subscription_create,
        name="subscription_create",
    ),
    path(
        "teams/<slug:slug>/notifications/<int:subscription_id>/edit/",
        manage.subscription_edit,
        name="subscription_edit",
    ),
    path(
        "teams/<slug:slug>/notifications/<int:subscription_id>/delete/",
        manage.subscription_delete,
        name="subscription_delete",
    ),
    path(
        "teams/<slug:slug>/notifications/<int:subscription_id>/test/",
        manage.subscription_test,
        name="subscription_test",
    ),
]
