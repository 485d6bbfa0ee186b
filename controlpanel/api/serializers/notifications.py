"""``/api/teams/{slug}/subscriptions/``: a team's run notifications and their test."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from controlpanel.api.serializers.base import profile_slug_field
from controlpanel.models import Subscription


class SubscriptionSerializer(serializers.ModelSerializer[Subscription]):
    """A team's notification subscription; the signing secret goes in, never out."""

    profile = profile_slug_field(allow_null=True, required=False)
    emails = serializers.ListField(child=serializers.CharField(max_length=254), required=False)
    dag_ids = serializers.ListField(child=serializers.CharField(max_length=250), required=False)
    dag_patterns = serializers.ListField(
        child=serializers.CharField(max_length=250), required=False
    )
    secret = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text="Webhook signing secret (HMAC-SHA256); empty removes it. Never returned.",
    )
    has_secret = serializers.BooleanField(read_only=True)

    class Meta:
        model = Subscription
        fields = [
            "id",
            "name",
            "channel",
            "emails",
            "all_members",
            "url",
            "secret",
            "has_secret",
            "on_failure",
            "on_success",
            "profile",
            "dag_ids",
            "dag_patterns",
            "is_active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "has_secret", "created_at", "updated_at"]


class NotificationTestSerializer(serializers.Serializer[Any]):
    sent = serializers.BooleanField()
    message = serializers.CharField()
