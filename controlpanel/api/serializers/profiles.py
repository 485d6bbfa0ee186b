"""``/api/profiles/``: connection profiles, whose secrets go in and never come out."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from controlpanel.models import AirflowProfile


class ProfileSerializer(serializers.ModelSerializer[AirflowProfile]):
    """A profile without its secret: only whether one is stored."""

    has_secret = serializers.BooleanField(read_only=True)
    security_warning = serializers.CharField(read_only=True)

    class Meta:
        model = AirflowProfile
        fields = [
            "name",
            "slug",
            "base_url",
            "auth_type",
            "username",
            "has_secret",
            "verify_tls",
            "ca_bundle",
            "allow_insecure_http",
            "api_version",
            "timeout_seconds",
            "is_active",
            "track_external_runs",
            "security_warning",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ProfileWriteSerializer(serializers.Serializer[Any]):
    """Create or change a profile; ``password`` or ``token`` is the secret (never returned)."""

    name = serializers.CharField(max_length=100)
    slug = serializers.SlugField(max_length=50)
    base_url = serializers.CharField(max_length=500)
    auth_type = serializers.ChoiceField(choices=AirflowProfile.AuthType.choices, default="basic")
    username = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    password = serializers.CharField(required=False, allow_blank=True, write_only=True)
    token = serializers.CharField(required=False, allow_blank=True, write_only=True)
    verify_tls = serializers.BooleanField(required=False, default=True)
    ca_bundle = serializers.CharField(required=False, allow_blank=True, default="")
    allow_insecure_http = serializers.BooleanField(required=False, default=False)
    api_version = serializers.ChoiceField(
        choices=AirflowProfile.ApiVersion.choices, required=False, default="auto"
    )
    timeout_seconds = serializers.FloatField(required=False, default=30, min_value=1, max_value=300)
    is_active = serializers.BooleanField(required=False, default=True)
    track_external_runs = serializers.BooleanField(required=False, default=True)
