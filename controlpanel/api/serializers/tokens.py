"""``/api/tokens/``: API tokens (the plaintext only once, when a token is made)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from controlpanel.models import ApiToken


class TokenSerializer(serializers.ModelSerializer[ApiToken]):
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = ApiToken
        fields = [
            "id",
            "name",
            "prefix",
            "username",
            "created_at",
            "expires_at",
            "last_used_at",
            "read_only",
            "revoked_at",
        ]
        read_only_fields = fields


class TokenCreateSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100, required=False, default="API token")
    expires_days = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=1, max_value=3650
    )
    read_only = serializers.BooleanField(required=False, default=False)  # type: ignore[assignment]
    username = serializers.CharField(
        required=False, help_text="Whose token (superusers only; default: yourself)."
    )


class NewTokenSerializer(TokenSerializer):
    token = serializers.CharField(read_only=True, help_text="Shown only once.")

    class Meta(TokenSerializer.Meta):
        fields = [*TokenSerializer.Meta.fields, "token"]
        read_only_fields = fields
