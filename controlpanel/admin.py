"""The Django admin: a fallback for panel admins, never a way around the services.

Audit events, the DAG catalog and runs are read-only here. Profile, team, membership and
grant changes go through the same services as the panel's own pages, so they are checked
and audited the same way (same actions, same payloads). A profile's password or token is
write-only: the form takes a new one and never shows the stored one, not even encrypted.
"""

from __future__ import annotations

from typing import Any

from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest

from controlpanel.audit import Actor
from controlpanel.models import (
    AirflowProfile,
    AuditEvent,
    Dag,
    DagGrant,
    Run,
    Team,
    TeamMembership,
)
from controlpanel.permissions import access_for
from controlpanel.services import profiles as profile_services
from controlpanel.services import teams as team_services
from controlpanel.services import users as user_services


class ReadOnlyAdmin(admin.ModelAdmin):
    """Viewable, never added, changed or deleted through the admin (not even by superusers)."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Rows come from the panel itself, never from a form."""
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """The change page shows the row read-only; a POST to it is refused (403)."""
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Also removes the "delete selected" bulk action."""
        return False


def _actor(request: HttpRequest) -> Actor:
    """The admin user as the services and the audit trail know them."""
    return Actor.from_request(request, source=AuditEvent.Source.WEB)


# --- audit trail ------------------------------------------------------------------------------


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """The audit trail, to browse and search; the chain is checked by ``verify_audit``."""

    list_display = [
        "time",
        "actor_username",
        "source",
        "action",
        "profile_slug",
        "dag_id",
        "outcome",
    ]
    list_filter = ["action", "outcome", "source"]
    search_fields = ["actor_username", "action", "profile_slug", "dag_id", "dag_run_id", "message"]
    date_hierarchy = "created_at"
    # The trail only grows; counting it all twice per page (filtered and total) gets slow.
    show_full_result_count = False

    @admin.display(description="time", ordering="created_at")
    def time(self, event: AuditEvent) -> Any:
        """When it happened."""
        return event.created_at

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Audit reviewers who are also staff may read the trail here too."""
        return (
            super().has_view_permission(request, obj) or access_for(request.user).can_review_audit
        )


# --- profiles ---------------------------------------------------------------------------------


class AirflowProfileForm(ModelForm):
    """The profile form with a write-only field for the password or token."""

    new_secret = forms.CharField(
        label="New password or token",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Stored encrypted and never shown again. Leave empty to keep the stored one.",
    )

    class Meta:
        model = AirflowProfile
        # An allowlist (the services' own), so a secret-bearing field added later is not
        # exposed by default.
        fields = list(profile_services.PROFILE_FIELDS)


@admin.register(AirflowProfile)
class AirflowProfileAdmin(admin.ModelAdmin):
    """Connection profiles; the stored secret is never rendered, only whether one is set."""

    form = AirflowProfileForm
    list_display = ["name", "slug", "base_url", "auth_type", "secret_set", "is_active"]
    list_filter = ["is_active", "auth_type"]
    search_fields = ["name", "slug", "base_url"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["secret_set"]

    @admin.display(boolean=True, description="secret set")
    def secret_set(self, profile: AirflowProfile) -> bool:
        """Whether a password or token is stored (never which)."""
        return profile.has_secret

    def _may_manage(self, request: HttpRequest) -> bool:
        return access_for(request.user).can_manage_profiles

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Panel admins only, as in the services (model permissions alone do not do)."""
        return self._may_manage(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Panel admins only."""
        return self._may_manage(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Panel admins only."""
        return self._may_manage(request)

    def save_model(
        self, request: HttpRequest, obj: AirflowProfile, form: Any, change: bool
    ) -> None:
        """Save through the profile services: encrypted secret, audit event, client reset."""
        values = {name: getattr(obj, name) for name in profile_services.PROFILE_FIELDS}
        new_secret = form.cleaned_data.get("new_secret") or ""
        if change:
            # The service compares against the stored row to record what changed.
            stored = AirflowProfile.objects.get(pk=obj.pk)
            profile_services.update_profile(
                _actor(request), stored, new_secret=new_secret, **values
            )
        else:
            obj.pk = profile_services.create_profile(
                _actor(request), secret=new_secret, **values
            ).pk
        obj.refresh_from_db()

    def delete_model(self, request: HttpRequest, obj: AirflowProfile) -> None:
        """Delete through the service (audited; its pooled Airflow client is closed)."""
        profile_services.delete_profile(_actor(request), obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[AirflowProfile]) -> None:
        """The "delete selected" action: one audited delete per profile."""
        for profile in queryset:
            self.delete_model(request, profile)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        """Let a profile's DAG catalog and runs go with it, though they are read-only here.

        Otherwise the admin refuses every delete of a profile that has ever been synced.
        """
        to_delete, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        derived = {Dag._meta.verbose_name, Run._meta.verbose_name}
        return to_delete, model_count, perms_needed - derived, protected


# --- teams and grants -------------------------------------------------------------------------


class TeamsAdmin(admin.ModelAdmin):
    """Changes to teams and grants: panel admins only, as the services decide."""

    def _may_manage(self, request: HttpRequest) -> bool:
        return access_for(request.user).can_manage_teams()

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Panel admins only."""
        return self._may_manage(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Panel admins only."""
        return self._may_manage(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Panel admins only."""
        return self._may_manage(request)


class MembershipInline(admin.TabularInline):
    """A team's members and their roles (saved through the member services)."""

    model = TeamMembership
    extra = 0
    autocomplete_fields = ["user"]
    readonly_fields = ["source"]  # the directory sync's own memberships say so

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Panel admins only."""
        return access_for(request.user).can_manage_teams()

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Panel admins only."""
        return access_for(request.user).can_manage_teams()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Panel admins only."""
        return access_for(request.user).can_manage_teams()


@admin.register(Team)
class TeamAdmin(TeamsAdmin):
    """Teams with their members."""

    inlines = [MembershipInline]
    exclude = ["directory_groups"]  # set on the team page, one a line (a JSON box here)
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}

    def save_model(self, request: HttpRequest, obj: Team, form: Any, change: bool) -> None:
        """Create or rename through the team services."""
        values = {name: getattr(obj, name) for name in team_services.TEAM_FIELDS}
        if change:
            team_services.update_team(_actor(request), Team.objects.get(pk=obj.pk), **values)
        else:
            obj.pk = team_services.create_team(_actor(request), **values).pk
        obj.refresh_from_db()

    def delete_model(self, request: HttpRequest, obj: Team) -> None:
        """Delete a team through the team services (audited with what goes with it)."""
        team_services.delete_team(_actor(request), obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Team]) -> None:
        """The "delete selected" action: one audited delete per team."""
        for team in queryset:
            self.delete_model(request, team)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """Apply the member rows through the member services, one audited change each.

        Removals first, so a user moved from one row to another is not "already in" it.
        """
        team: Team = form.instance
        actor = _actor(request)
        formset.save(commit=False)  # sorts the rows into new, changed and deleted
        for membership in formset.deleted_objects:
            team_services.remove_member(actor, team, membership.user)
        for membership, fields in formset.changed_objects:
            if "user" in fields:
                before = TeamMembership.objects.get(pk=membership.pk)
                team_services.remove_member(actor, team, before.user)
                team_services.add_member(actor, team, membership.user, membership.role)
            elif "role" in fields:
                team_services.change_member_role(actor, team, membership.user, membership.role)
        for membership in formset.new_objects:
            team_services.add_member(actor, team, membership.user, membership.role)


class DagGrantForm(ModelForm):
    """A grant; the selector is checked by the same rules as on the panel's team pages."""

    class Meta:
        model = DagGrant
        fields = ["team", "profile", "level", "dag_ids", "dag_patterns", "tags"]

    def clean(self) -> dict[str, Any]:
        """Refuse an empty or malformed selector before the service would."""
        cleaned = super().clean() or {}
        selector = [
            team_services.clean_selector(cleaned.get(name) or [])
            for name in ("dag_ids", "dag_patterns", "tags")
        ]
        problem = team_services._selector_problem(*selector)
        if problem:
            raise forms.ValidationError(problem)
        return cleaned


@admin.register(DagGrant)
class DagGrantAdmin(TeamsAdmin):
    """Grants of teams on DAGs: added and removed, never edited (as on the panel's pages)."""

    form = DagGrantForm
    list_display = ["team", "profile", "level", "selector_text", "created_by", "created_at"]
    list_filter = ["level", "profile", "team"]
    list_select_related = ["team", "profile", "created_by"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """A grant is replaced, not edited: the audit trail then reads add, remove."""
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Viewing stays open to panel admins although changing is not."""
        return self._may_manage(request) or super().has_view_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: DagGrant, form: Any, change: bool) -> None:
        """Add through the grant service (records who made it)."""
        obj.pk = team_services.add_grant(
            _actor(request),
            obj.team,
            profile=obj.profile,
            # An emptied JSON box arrives as None.
            dag_ids=obj.dag_ids or [],
            dag_patterns=obj.dag_patterns or [],
            tags=obj.tags or [],
            level=obj.level,
        ).pk
        obj.refresh_from_db()

    def delete_model(self, request: HttpRequest, obj: DagGrant) -> None:
        """Remove through the grant service."""
        team_services.remove_grant(_actor(request), obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[DagGrant]) -> None:
        """The "delete selected" action: one audited removal per grant."""
        for grant in queryset.select_related("team", "profile"):
            self.delete_model(request, grant)


# --- what the panel knows of Airflow (read-only) ----------------------------------------------


@admin.register(Dag)
class DagAdmin(ReadOnlyAdmin):
    """The DAG catalog, as last read from Airflow."""

    list_display = ["dag_id", "profile", "is_paused", "is_active", "has_import_errors", "synced_at"]
    list_filter = ["profile", "is_paused", "is_active"]
    search_fields = ["dag_id", "display_name", "description"]
    list_select_related = ["profile"]


@admin.register(Run)
class RunAdmin(ReadOnlyAdmin):
    """DAG runs the panel tracks."""

    list_display = [
        "dag_run_id",
        "dag_id",
        "profile",
        "state",
        "source",
        "triggered_by",
        "created_at",
    ]
    list_filter = ["state", "source", "profile"]
    search_fields = ["dag_id", "dag_run_id"]
    list_select_related = ["profile", "triggered_by"]
    date_hierarchy = "created_at"


# --- login lockouts (django-axes) --------------------------------------------------------------


class LoginLockoutAdmin(AccessAttemptAdmin):
    """django-axes' failed-login counters; deleting one unlocks its login, audited."""

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Unlocking is for panel admins, as in ``services.users.unlock_logins``."""
        return access_for(request.user).is_superuser

    def delete_model(self, request: HttpRequest, obj: AccessAttempt) -> None:
        """Unlock through the service, which writes ``auth.unlock``."""
        user_services.unlock_logins(
            _actor(request), username=obj.username or None, ip_address=obj.ip_address or None
        )

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[AccessAttempt]) -> None:
        """The "delete selected" action: one audited unlock per counter."""
        for attempt in list(queryset):
            self.delete_model(request, attempt)


if admin.site.is_registered(AccessAttempt):
    admin.site.unregister(AccessAttempt)
admin.site.register(AccessAttempt, LoginLockoutAdmin)
