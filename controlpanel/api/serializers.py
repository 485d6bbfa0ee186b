"""What the API reads and writes: request bodies in, the contract's field names out."""

from __future__ import annotations

from typing import Any

from django.utils.dateparse import parse_datetime
from rest_framework import serializers

from controlpanel.models import (
    AirflowProfile,
    ApiToken,
    ApprovalRequest,
    AuditEvent,
    DagGrant,
    Level,
    Run,
    StateChange,
    Subscription,
    TaskInstance,
    Team,
    TeamMembership,
)
from controlpanel.models.teams import DIRECTORY_GROUP_MAX_CHARS, DIRECTORY_GROUPS_LIMIT

# --- me, users, tokens --------------------------------------------------------------------


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


# --- profiles -------------------------------------------------------------------------------


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


# --- teams --------------------------------------------------------------------------------


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
    profile = serializers.SlugRelatedField(slug_field="slug", queryset=AirflowProfile.objects.all())
    dag_ids = serializers.ListField(child=serializers.CharField(max_length=250), default=list)
    dag_patterns = serializers.ListField(child=serializers.CharField(max_length=250), default=list)
    tags = serializers.ListField(child=serializers.CharField(max_length=250), default=list)
    level = serializers.ChoiceField(choices=Level.choices, default="view")
    requires_approval = serializers.BooleanField(default=False)
    approval_for_operate = serializers.BooleanField(default=False)
    approver_team = serializers.SlugRelatedField(
        slug_field="slug", queryset=Team.objects.all(), required=False, allow_null=True
    )

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


class SubscriptionSerializer(serializers.ModelSerializer[Subscription]):
    """A team's notification subscription; the signing secret goes in, never out."""

    profile = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=AirflowProfile.objects.all(),
        allow_null=True,
        required=False,
    )
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


# --- DAGs and runs ----------------------------------------------------------------------------


class RunSummarySerializer(serializers.ModelSerializer[Run]):
    class Meta:
        model = Run
        fields = ["id", "dag_run_id", "state", "created_at", "start_date", "end_date"]
        read_only_fields = fields


class DagSerializer(serializers.Serializer[Any]):
    profile = serializers.CharField(source="profile.slug")
    dag_id = serializers.CharField()
    display_name = serializers.CharField()
    description = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())
    is_paused = serializers.BooleanField()
    permissions = serializers.ListField(child=serializers.CharField())
    last_run = RunSummarySerializer(allow_null=True)


class ParamSerializer(serializers.Serializer[Any]):
    schema = serializers.DictField()
    default = serializers.JSONField(allow_null=True)
    description = serializers.CharField(allow_null=True)


class DagDetailSerializer(DagSerializer):
    params = serializers.DictField(
        child=ParamSerializer(),
        source="ordered_params",
        help_text="The DAG's params, in the order the DAG's author wrote them.",
    )


class DagPatchSerializer(serializers.Serializer[Any]):
    is_paused = serializers.BooleanField()
    # Where grants put pausing behind approval: why (the request is made instead).
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class RetryRequestSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class TriggerSerializer(serializers.Serializer[Any]):
    conf = serializers.DictField(required=False, default=dict)
    logical_date = serializers.DateTimeField(required=False, allow_null=True, default=None)
    note = serializers.CharField(required=False, allow_null=True, allow_blank=True, default=None)
    reason = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=2000, trim_whitespace=True
    )

    def validate_logical_date(self, value: Any) -> Any:
        raw = self.initial_data.get("logical_date") if isinstance(self.initial_data, dict) else None
        if value is not None and isinstance(raw, str) and not _has_timezone(raw):
            raise serializers.ValidationError("Give the logical date with a time zone.")
        return value


def _has_timezone(text: str) -> bool:
    parsed = parse_datetime(text)
    return parsed is not None and parsed.tzinfo is not None


class TaskInstanceSerializer(serializers.ModelSerializer[TaskInstance]):
    # Airflow's task_display_name, else the task id (as Airflow itself answers).
    display_name = serializers.CharField(source="label", read_only=True)

    class Meta:
        model = TaskInstance
        fields = [
            "task_id",
            "display_name",
            "map_index",
            "try_number",
            "state",
            "start_date",
            "end_date",
            "duration",
        ]
        read_only_fields = fields


class RunSerializer(serializers.ModelSerializer[Run]):
    profile = serializers.CharField(source="profile.slug", read_only=True)
    triggered_by = serializers.SerializerMethodField()
    approved_by = serializers.SerializerMethodField()
    stale = serializers.SerializerMethodField()
    task_instances = TaskInstanceSerializer(many=True, read_only=True)

    class Meta:
        model = Run
        fields = [
            "id",
            "profile",
            "dag_id",
            "dag_run_id",
            "state",
            "conf",
            "note",
            "logical_date",
            "triggered_by",
            "approved_by",
            "approval_request",
            "source",
            "created_at",
            "start_date",
            "end_date",
            "stale",
            "task_instances",
        ]
        read_only_fields = fields

    def get_triggered_by(self, run: Run) -> str | None:
        return run.triggered_by.get_username() if run.triggered_by else None

    def get_approved_by(self, run: Run) -> str | None:
        """Who approved the request this run carries out (null without approval)."""
        return run.approved_by.get_username() if run.approved_by else None

    def get_stale(self, run: Run) -> str | None:
        """Why the run looks stuck (e.g. the DAG is paused), or null."""
        return run.stale_reason or None


class RunBriefSerializer(RunSerializer):
    class Meta(RunSerializer.Meta):
        fields = [f for f in RunSerializer.Meta.fields if f != "task_instances"]
        read_only_fields = fields


class StateChangeSerializer(serializers.ModelSerializer[StateChange]):
    retry_requested_by = serializers.SerializerMethodField()

    class Meta:
        model = StateChange
        fields = [
            "task_id",
            "map_index",
            "try_number",
            "from_state",
            "to_state",
            "observed_at",
            "retry",
            "retry_requested_by",
        ]
        read_only_fields = fields

    def get_retry_requested_by(self, change: StateChange) -> str | None:
        """Who asked the panel for this retry (null: not a retry, or retried in Airflow)."""
        user = change.retry_requested_by
        return user.get_username() if user else None


class RetryResultSerializer(serializers.Serializer[Any]):
    cleared_tasks = serializers.ListField(child=serializers.CharField())
    run = RunSerializer()


# --- audit --------------------------------------------------------------------------------

AUDIT_FIELDS = [
    "id",
    "created_at",
    "actor_username",
    "token_prefix",
    "source",
    "ip_address",
    "action",
    "profile_slug",
    "dag_id",
    "dag_run_id",
    "payload",
    "outcome",
    "message",
    "request_id",
]


class AuditEventSerializer(serializers.ModelSerializer[AuditEvent]):
    action_label = serializers.CharField(
        read_only=True, help_text='The action in plain words ("Triggered a run").'
    )

    class Meta:
        model = AuditEvent
        fields = [*AUDIT_FIELDS, "action_label"]
        read_only_fields = fields


class ApprovalRequestSerializer(serializers.ModelSerializer[ApprovalRequest]):
    profile = serializers.CharField(source="profile.slug", read_only=True)
    requested_by = serializers.CharField(source="requested_by.username", read_only=True)
    decided_by = serializers.SerializerMethodField()
    approver_teams = serializers.SerializerMethodField()
    run = serializers.SerializerMethodField()

    class Meta:
        model = ApprovalRequest
        fields = [
            "id",
            "profile",
            "dag_id",
            "action",
            "target_run",
            "state",
            "requested_by",
            "conf",
            "logical_date",
            "note",
            "reason",
            "created_at",
            "expires_at",
            "approver_teams",
            "decided_by",
            "decided_at",
            "comment",
            "trigger_error",
            "run",
        ]
        read_only_fields = fields

    def get_decided_by(self, approval: ApprovalRequest) -> str | None:
        return approval.decided_by.get_username() if approval.decided_by else None

    def get_approver_teams(self, approval: ApprovalRequest) -> list[str]:
        return [team.slug for team in approval.approver_teams.all()]

    def get_run(self, approval: ApprovalRequest) -> int | None:
        """The id of the run the approval started (``/api/runs/{id}/``), or null."""
        run = getattr(approval, "run", None)
        return run.pk if run is not None else None


class ApprovalCreatedSerializer(serializers.Serializer[Any]):
    approval_request = ApprovalRequestSerializer()


class DecisionSerializer(serializers.Serializer[Any]):
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
