"""HTML forms of the management pages: they parse input, the services validate and save.

The forms take their fields from the models (labels, help texts, choices) but are plain
``Form`` classes, so a refused change goes through the service and is audited there.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.forms.models import fields_for_model

from controlpanel.models import AirflowProfile, Level, Subscription, Team, TeamMembership
from controlpanel.services.profiles import PROFILE_FIELDS
from controlpanel.services.teams import TEAM_FIELDS


def add_service_errors(form: forms.Form, error: ValidationError) -> None:
    """Show a service's ValidationError on the form: under its field, or above the form."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, errors in error.error_dict.items():
        target = field if field in form.fields and field != NON_FIELD_ERRORS else None
        form.add_error(target, errors)


def split_list(text: str) -> list[str]:
    """'a, b,,c ' -> ['a', 'b', 'c']."""
    return [part.strip() for part in text.split(",") if part.strip()]


class ProfileForm(forms.Form):
    """A connection profile; the password or token is never rendered back."""

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields.update(fields_for_model(AirflowProfile, fields=list(PROFILE_FIELDS)))
        self.fields["secret"] = forms.CharField(
            label="Password or token",
            required=False,
            strip=False,
            widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
            help_text=(
                "Leave empty to keep the stored one."
                if editing
                else "The password of the Airflow user, or the bearer token."
            ),
        )
        self.order_fields([*PROFILE_FIELDS[:5], "secret"])  # the secret right after the user
        if not editing:
            slug = self.fields["slug"]
            slug.required = False
            slug.help_text = (
                "The connection's name in addresses. Filled in from the name as you type; "
                "left empty, it is made from the name."
            )
            # static/js/slug-from-name.js fills it while nobody has edited it by hand.
            slug.widget.attrs["data-slug-from"] = "id_name"

    def profile_fields(self) -> dict[str, Any]:
        """The cleaned fields for ``create_profile`` / ``update_profile`` (without the secret)."""
        return {name: self.cleaned_data[name] for name in PROFILE_FIELDS}

    @staticmethod
    def initial_for(profile: AirflowProfile) -> dict[str, Any]:
        """The form's initial values for an existing profile (never the secret)."""
        return {name: getattr(profile, name) for name in PROFILE_FIELDS}


class TeamForm(forms.Form):
    """A team's name, slug, description and directory groups (one a line: DNs have commas)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields.update(fields_for_model(Team, fields=list(TEAM_FIELDS)))
        self.fields["directory_groups"] = forms.CharField(
            label="Directory groups",
            required=False,
            widget=forms.Textarea(attrs={"rows": 3}),
            help_text=(
                "One group name or DN a line. People in any of these groups join the team "
                "when they sign in through the directory, and leave it at the first sign-in "
                "without them. Members added by hand stay whatever their groups."
            ),
        )

    def clean_directory_groups(self) -> list[str]:
        """The groups, one a line, without blank lines."""
        text = self.cleaned_data["directory_groups"]
        return [line.strip() for line in text.splitlines() if line.strip()]

    def team_fields(self) -> dict[str, Any]:
        """The cleaned fields for ``create_team`` / ``update_team``."""
        return {name: self.cleaned_data[name] for name in (*TEAM_FIELDS, "directory_groups")}

    @staticmethod
    def initial_for(team: Team) -> dict[str, Any]:
        """The form's initial values for an existing team."""
        initial = {name: getattr(team, name) for name in TEAM_FIELDS}
        return {**initial, "directory_groups": "\n".join(team.directory_groups)}


class MemberAddForm(forms.Form):
    """Add a user to a team by username, picked from a list that narrows as one types.

    The list is the browser's own (a ``<datalist>``, so keyboards and screen readers know
    it); with ``candidates_url`` htmx asks the server for matches at each pause in typing.
    """

    username = forms.CharField(
        label="Username",
        max_length=150,
        help_text="Start typing a username or name, then pick one from the list.",
    )
    role = forms.ChoiceField(
        label="Role", choices=TeamMembership.Role.choices, initial=TeamMembership.Role.MEMBER
    )

    def __init__(self, *args: Any, candidates_url: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        attrs = {"list": "member-candidates", "autocomplete": "off"}
        if candidates_url:
            attrs |= {
                "hx-get": candidates_url,
                "hx-trigger": "input changed delay:250ms",
                "hx-target": "#member-candidates",
                "hx-swap": "innerHTML",
                "hx-sync": "this:replace",
            }
        self.fields["username"].widget.attrs.update(attrs)


class MemberRoleForm(forms.Form):
    """Change a member's role."""

    role = forms.ChoiceField(label="Role", choices=TeamMembership.Role.choices)


class GrantForm(forms.Form):
    """A grant: a profile, DAGs chosen by ids, patterns or tags, and a level."""

    profile = forms.ModelChoiceField(
        label="Airflow", queryset=AirflowProfile.objects.all(), empty_label=None
    )
    dag_ids = forms.CharField(
        label="DAG ids",
        required=False,
        help_text="Comma-separated, e.g. finance_daily, finance_monthly",
    )
    dag_patterns = forms.CharField(
        label="DAG id patterns",
        required=False,
        help_text="Comma-separated; * matches any run of characters, ? one: finance_*",
    )
    tags = forms.CharField(
        label="Tags",
        required=False,
        help_text="Comma-separated; a DAG carrying any of these tags is included (exact case)",
    )
    level = forms.ChoiceField(label="Level", choices=Level.choices, initial=Level.VIEW)
    requires_approval = forms.BooleanField(
        label="Requires approval",
        required=False,
        help_text="Triggers through this grant wait until a member of the approver team approves",
    )
    approver_team = forms.ModelChoiceField(
        label="Approver team",
        queryset=Team.objects.all(),
        required=False,
        to_field_name="slug",
        empty_label="(none)",
    )
    approval_for_operate = forms.BooleanField(
        label="Approval for pause and retry too",
        required=False,
        help_text="With 'Requires approval': pausing, unpausing and retries wait for it as well",
    )

    def approval(self) -> dict[str, Any]:
        """The approval fields, as ``teams.add_grant`` takes them."""
        return {
            "requires_approval": bool(self.cleaned_data.get("requires_approval")),
            "approver_team": self.cleaned_data.get("approver_team"),
            "approval_for_operate": bool(self.cleaned_data.get("approval_for_operate")),
        }

    def selector(self) -> dict[str, Any]:
        """The cleaned ids, patterns and tags as lists."""
        return {
            name: split_list(self.cleaned_data[name])
            for name in ("dag_ids", "dag_patterns", "tags")
        }


class SubscriptionForm(forms.Form):
    """A team's notification subscription; the webhook signing secret is never rendered back."""

    name = forms.CharField(label="Name", max_length=100, required=False)
    channel = forms.ChoiceField(label="Send by", choices=Subscription.Channel.choices)
    emails = forms.CharField(
        label="Email addresses",
        required=False,
        help_text="Comma-separated. Or tick 'all team members' below.",
    )
    all_members = forms.BooleanField(label="All team members", required=False)
    url = forms.CharField(
        label="Webhook URL",
        max_length=500,
        required=False,
        help_text="https:// address that receives a JSON POST per notification.",
    )
    secret = forms.CharField(
        label="Signing secret",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Optional: signs each body (X-Panel-Signature header). Never shown again.",
    )
    on_failure = forms.BooleanField(label="When a run fails", required=False, initial=True)
    on_success = forms.BooleanField(label="When a run succeeds", required=False)
    profile = forms.ModelChoiceField(
        label="Airflow",
        queryset=AirflowProfile.objects.all(),
        required=False,
        empty_label="Every Airflow the team has a grant on",
    )
    dag_ids = forms.CharField(
        label="Only these DAG ids",
        required=False,
        help_text="Comma-separated; leave both empty for every DAG the team may view.",
    )
    dag_patterns = forms.CharField(
        label="Only DAG ids matching",
        required=False,
        help_text="Comma-separated patterns such as finance_*.",
    )
    is_active = forms.BooleanField(label="Active", required=False, initial=True)

    def __init__(self, *args: Any, team: Team, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        granted = AirflowProfile.objects.filter(grants__team=team).distinct().order_by("name")
        self.fields["profile"].queryset = granted  # type: ignore[attr-defined]
        if editing:
            self.fields[
                "secret"
            ].help_text = "Leave empty to keep the stored one; tick 'remove' below to drop it."
            self.fields["remove_secret"] = forms.BooleanField(
                label="Remove the signing secret", required=False
            )

    def subscription_fields(self) -> dict[str, Any]:
        """The cleaned fields for ``subscribe`` / ``update_subscription`` (no secret)."""
        data = self.cleaned_data
        fields = {name: data[name] for name in ("name", "channel", "all_members", "url")}
        fields |= {name: data[name] for name in ("on_failure", "on_success", "profile")}
        fields |= {name: split_list(data[name]) for name in ("emails", "dag_ids", "dag_patterns")}
        fields["is_active"] = data["is_active"]
        return fields

    def new_secret(self) -> str | None:
        """The secret to store: a new one, '' to remove it, None to keep it."""
        if self.cleaned_data.get("remove_secret"):
            return ""
        return self.cleaned_data["secret"] or None

    @staticmethod
    def initial_for(sub: Subscription) -> dict[str, Any]:
        """The form's initial values for an existing subscription (never the secret)."""
        return {
            "name": sub.name,
            "channel": sub.channel,
            "emails": ", ".join(sub.emails),
            "all_members": sub.all_members,
            "url": sub.url,
            "on_failure": sub.on_failure,
            "on_success": sub.on_success,
            "profile": sub.profile_id,
            "dag_ids": ", ".join(sub.dag_ids),
            "dag_patterns": ", ".join(sub.dag_patterns),
            "is_active": sub.is_active,
        }
