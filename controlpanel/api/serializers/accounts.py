"""``/api/me/`` and ``/api/users/``: who the caller is, and user accounts."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


class TeamRoleSerializer(serializers.Serializer[Any]):
    slug = serializers.CharField()
    name = serializers.CharField()
    role = serializers.CharField()


class MeSerializer(serializers.Serializer[Any]):
    username = serializers.CharField()
    email = serializers.CharField()
    teams = TeamRoleSerializer(many=True)
    is_auditor = serializers.BooleanField()
    is_superuser = serializers.BooleanField()


class UserSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(max_length=150)
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    password = serializers.CharField(
        write_only=True, required=False, style={"input_type": "password"}
    )
    is_auditor = serializers.BooleanField(required=False, default=False)
    is_active = serializers.BooleanField(read_only=True)
    is_superuser = serializers.BooleanField(read_only=True)
    date_joined = serializers.DateTimeField(read_only=True)
    last_login = serializers.DateTimeField(read_only=True, allow_null=True)


class UserUpdateSerializer(serializers.Serializer[Any]):
    email = serializers.EmailField(required=False, allow_blank=True)
    password = serializers.CharField(write_only=True, required=False)
    is_auditor = serializers.BooleanField(required=False)
    is_active = serializers.BooleanField(required=False)
