"""``/api/teams/``: teams, their members and their grants."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from controlpanel.api.serializers.base import profile_slug_field, team_slug_field
from controlpanel.models import DagGrant, Level, Team, TeamMembership
from controlpanel.models.teams import DIRECTORY_GROUP_MAX_CHARS, DIRECTORY_GROUPS_LIMIT


class TeamSerializer(serializers.ModelSerializer[Team]):
    directory_groups = serializers.ListField(
        child=serializers.CharField(max_length=DIRECTORY_GROUP_MAX_CHARS),
        max_length=DIRECTORY_GROUPS_LIMIT,
        required=False,
        help_text=(
            "Directory groups (names or DNs) whose members join this team when they sign in "
            "through the directory, and leave it when they no longer have any of them."
        ),
    )

    class Meta:
        model = Team
        fields = ["name", "slug", "description", "directory_groups", "created_at"]
        read_only_fields = ["created_at"]
        extra_kwargs: dict[str, dict[str, Any]] = {
            "name": {"validators": []},
            "slug": {"validators": []},
        }


class MemberSerializer(serializers.ModelSerializer[TeamMembership]):
    username = serializers.CharField(source="user.username")

    class Meta:
        model = TeamMembership
        fields = ["username", "role", "source", "created_at"]
        read_only_fields = ["source", "created_at"]


class MemberAddSerializer(serializers.Serializer[Any]):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=TeamMembership.Role.choices, default="member")


class MemberRoleSerializer(serializers.Serializer[Any]):
    role = serializers.ChoiceField(choices=TeamMembership.Role.choices)


class GrantSerializer(serializers.ModelSerializer[DagGrant]):
    profile = profile_slug_field()
    dag_ids = serializers.ListField(child=serializers.CharField(max_length=250), default=list)
    dag_patterns = serializers.ListField(child=serializers.CharField(max_length=250), default=list)
    tags = serializers.ListField(child=serializers.CharField(max_length=250), default=list)
    level = serializers.ChoiceField(choices=Level.choices, default="view")
    requires_approval = serializers.BooleanField(default=False)
    approval_for_operate = serializers.BooleanField(default=False)
    approver_team = team_slug_field(required=False, allow_null=True)

    class Meta:
        model = DagGrant
        fields = [
            "id",
            "profile",
            "dag_ids",
            "dag_patterns",
            "tags",
            "level",
            "requires_approval",
            "approver_team",
            "approval_for_operate",
            "created_at",
        ]
        read_only_fields = ["id", "created_at"]
