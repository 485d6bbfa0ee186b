"""``/api/profiles/`` and ``/api/teams/`` (members, grants and notification subscriptions)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from controlpanel.api import serializers as s
from controlpanel.api.base import ApiView
from controlpanel.models import DagGrant, Team
from controlpanel.selectors.members import team_member, team_members
from controlpanel.selectors.profiles import visible_profile, visible_profiles_by_name
from controlpanel.selectors.teams import (
    team_grant,
    team_grants_as_added,
    team_subscription,
    team_subscriptions,
    visible_team,
    visible_teams_by_name,
)
from controlpanel.selectors.users import user_named
from controlpanel.services import notifications, profiles, teams


def _raw(data: Any) -> dict[str, str]:
    """Request fields as strings, for services that refuse (and audit) before validating."""
    return {k: str(v) for k, v in dict(data).items() if k not in ("password", "token")}


# --- profiles -----------------------------------------------------------------------------


class ProfilesView(ApiView):
    """Profiles the caller has a grant on (never their secrets); create one (panel admins)."""

    list_view = True
    serializer_class = s.ProfileSerializer

    def get(self, request: Request) -> Response:
        return self.paginated(visible_profiles_by_name(self.access), s.ProfileSerializer)

    @extend_schema(request=s.ProfileWriteSerializer, responses={201: s.ProfileSerializer})
    def post(self, request: Request) -> Response:
        actor = self.actor()
        if not self.access.can_manage_profiles:
            raw = _raw(request.data)
            profiles.create_profile(  # refuses and audits the attempt
                actor, name="", slug=raw.get("slug", ""), base_url="", auth_type=""
            )
        body = s.ProfileWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        values = dict(body.validated_data)
        secret = values.pop("password", "") or values.pop("token", "")
        values.pop("token", None)
        profile = profiles.create_profile(actor, secret=secret, **values)
        return Response(s.ProfileSerializer(profile).data, status=status.HTTP_201_CREATED)


class ProfileView(ApiView):
    """One profile: read, change (PATCH), delete; the connection test is its own path."""

    serializer_class = s.ProfileSerializer

    def get(self, request: Request, slug: str) -> Response:
        return Response(s.ProfileSerializer(visible_profile(self.access, slug)).data)

    @extend_schema(request=s.ProfileWriteSerializer, responses=s.ProfileSerializer)
    def patch(self, request: Request, slug: str) -> Response:
        profile, actor = visible_profile(self.access, slug), self.actor()
        if not self.access.can_manage_profiles:
            profiles.update_profile(actor, profile)  # refuses and audits the attempt
        body = s.ProfileWriteSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        values = dict(body.validated_data)
        secret = values.pop("password", "") or values.pop("token", "")
        values.pop("token", None)
        profiles.update_profile(actor, profile, new_secret=secret or None, **values)
        return Response(s.ProfileSerializer(profile).data)

    def delete(self, request: Request, slug: str) -> Response:
        profiles.delete_profile(self.actor(), visible_profile(self.access, slug))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProfileTestView(ApiView):
    """Test the connection: Airflow version, scheduler health, credentials, trigger right."""

    serializer_class = s.ProfileSerializer

    @extend_schema(request=None, responses={200: dict[str, Any]})
    def post(self, request: Request, slug: str) -> Response:
        profile = visible_profile(self.access, slug)
        report = profiles.test_profile(self.actor(), profile)
        return Response(report.as_payload())


# --- teams --------------------------------------------------------------------------------


class TeamsView(ApiView):
    """The caller's teams (all for panel admins); create one (panel admins)."""

    list_view = True
    serializer_class = s.TeamSerializer

    def get(self, request: Request) -> Response:
        return self.paginated(visible_teams_by_name(self.access), s.TeamSerializer)

    def post(self, request: Request) -> Response:
        actor = self.actor()
        teams.ensure_may_manage_teams(actor, "team.create", _raw(request.data))
        body = s.TeamSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        team = teams.create_team(actor, **body.validated_data)
        return Response(s.TeamSerializer(team).data, status=status.HTTP_201_CREATED)


class TeamView(ApiView):
    """One team: read, rename or describe (PATCH, panel admins)."""

    serializer_class = s.TeamSerializer

    def get(self, request: Request, slug: str) -> Response:
        return Response(s.TeamSerializer(visible_team(self.access, slug)).data)

    def patch(self, request: Request, slug: str) -> Response:
        team, actor = visible_team(self.access, slug), self.actor()
        teams.ensure_may_manage_teams(actor, "team.update", {"team": team.slug})
        body = s.TeamSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        teams.update_team(actor, team, **body.validated_data)
        return Response(s.TeamSerializer(team).data)


def _user_named(username: str) -> Any:
    user = user_named(username)
    if user is None:
        raise serializers.ValidationError({"username": ["There is no such user."]})
    return user


class MembersView(ApiView):
    """A team's members; add one (panel admins and the team's team admins)."""

    list_view = True
    serializer_class = s.MemberSerializer

    def get(self, request: Request, slug: str) -> Response:
        team = visible_team(self.access, slug)
        return self.paginated(team_members(team), s.MemberSerializer)

    @extend_schema(request=s.MemberAddSerializer, responses={201: s.MemberSerializer})
    def post(self, request: Request, slug: str) -> Response:
        team, actor = visible_team(self.access, slug), self.actor()
        if not self.access.can_manage_members(team):
            teams.add_member(actor, team, request.user, "member")  # refuses and audits
        body = s.MemberAddSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        user = _user_named(body.validated_data["username"])
        membership = teams.add_member(actor, team, user, body.validated_data["role"])
        return Response(s.MemberSerializer(membership).data, status=status.HTTP_201_CREATED)


class MemberView(ApiView):
    """One member: change their role (PATCH) or take them out of the team (DELETE)."""

    serializer_class = s.MemberSerializer

    def _member(self, slug: str, username: str) -> tuple[Team, Any]:
        team = visible_team(self.access, slug)
        return team, team_member(team, username).user

    @extend_schema(request=s.MemberRoleSerializer, responses=s.MemberSerializer)
    def patch(self, request: Request, slug: str, username: str) -> Response:
        team, user = self._member(slug, username)
        actor = self.actor()
        if not self.access.can_manage_members(team):
            teams.change_member_role(actor, team, user, "member")  # refuses and audits
        body = s.MemberRoleSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        membership = teams.change_member_role(actor, team, user, body.validated_data["role"])
        return Response(s.MemberSerializer(membership).data)

    def delete(self, request: Request, slug: str, username: str) -> Response:
        team, user = self._member(slug, username)
        teams.remove_member(self.actor(), team, user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class GrantsView(ApiView):
    """A team's grants; add one (panel admins). The response carries the grant's ``id``."""

    list_view = True
    serializer_class = s.GrantSerializer

    def get(self, request: Request, slug: str) -> Response:
        team = visible_team(self.access, slug)
        return self.paginated(team_grants_as_added(team), s.GrantSerializer)

    def post(self, request: Request, slug: str) -> Response:
        team, actor = visible_team(self.access, slug), self.actor()
        teams.ensure_may_manage_teams(actor, "grant.add", {"team": team.slug, **_raw(request.data)})
        body = s.GrantSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        grant = teams.add_grant(actor, team, **body.validated_data)
        return Response(s.GrantSerializer(grant).data, status=status.HTTP_201_CREATED)


class GrantView(ApiView):
    """One grant: read, or take it away (DELETE, panel admins)."""

    serializer_class = s.GrantSerializer

    def _grant(self, slug: str, grant_id: int) -> DagGrant:
        return team_grant(visible_team(self.access, slug), grant_id)

    def get(self, request: Request, slug: str, grant_id: int) -> Response:
        return Response(s.GrantSerializer(self._grant(slug, grant_id)).data)

    def delete(self, request: Request, slug: str, grant_id: int) -> Response:
        teams.remove_grant(self.actor(), self._grant(slug, grant_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- notification subscriptions --------------------------------------------------------------


def _notifications_team(view: ApiView, slug: str, *, reading: bool) -> Team:
    """The team (404 unless visible); reading its subscriptions needs managing them (403)."""
    team = visible_team(view.access, slug)
    if reading and not view.access.can_manage_notifications(team):
        raise PermissionDenied(notifications.ONLY_MANAGERS)
    return team


class SubscriptionsView(ApiView):
    """A team's notification subscriptions; add one (panel admins and its team admins)."""

    list_view = True
    serializer_class = s.SubscriptionSerializer

    def get(self, request: Request, slug: str) -> Response:
        team = _notifications_team(self, slug, reading=True)
        return self.paginated(team_subscriptions(team), s.SubscriptionSerializer)

    def post(self, request: Request, slug: str) -> Response:
        team, actor = _notifications_team(self, slug, reading=False), self.actor()
        if not self.access.can_manage_notifications(team):
            notifications.subscribe(actor, team)  # refuses and audits
        body = s.SubscriptionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        values = dict(body.validated_data)
        sub = notifications.subscribe(actor, team, secret=values.pop("secret", ""), **values)
        return Response(s.SubscriptionSerializer(sub).data, status=status.HTTP_201_CREATED)


class SubscriptionView(ApiView):
    """One subscription: read, change (PATCH; a missing ``secret`` keeps it), delete."""

    serializer_class = s.SubscriptionSerializer

    def get(self, request: Request, slug: str, subscription_id: int) -> Response:
        team = _notifications_team(self, slug, reading=True)
        return Response(s.SubscriptionSerializer(team_subscription(team, subscription_id)).data)

    def patch(self, request: Request, slug: str, subscription_id: int) -> Response:
        team = _notifications_team(self, slug, reading=False)
        sub, actor = team_subscription(team, subscription_id), self.actor()
        if not self.access.can_manage_notifications(team):
            notifications.update_subscription(actor, sub)  # refuses and audits
        body = s.SubscriptionSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        values = dict(body.validated_data)
        secret = values.pop("secret", None)
        notifications.update_subscription(actor, sub, new_secret=secret, **values)
        return Response(s.SubscriptionSerializer(sub).data)

    def delete(self, request: Request, slug: str, subscription_id: int) -> Response:
        team = _notifications_team(self, slug, reading=False)
        notifications.unsubscribe(self.actor(), team_subscription(team, subscription_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class SubscriptionTestView(ApiView):
    """Send a sample notification now (one attempt) and say how it went."""

    serializer_class = s.NotificationTestSerializer

    @extend_schema(request=None, responses=s.NotificationTestSerializer)
    def post(self, request: Request, slug: str, subscription_id: int) -> Response:
        team = _notifications_team(self, slug, reading=False)
        sub = team_subscription(team, subscription_id)
        result = notifications.send_test(self.actor(), sub)
        message = f"Test notification sent to {sub.target_text}." if result.ok else result.error
        return Response({"sent": result.ok, "message": message})
