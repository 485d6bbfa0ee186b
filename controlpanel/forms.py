"""HTML forms of the management pages: they parse input, the services validate and save.

The forms take their fields from the models (labels, help texts, choices) but are plain
``Form`` classes, so a refused change goes through the service and is audited there.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.forms.models import fields_for_model

from controlpanel.models import AirflowProfile, Level, Team, TeamMembership
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

    def profile_fields(self) -> dict[str, Any]:
        """The cleaned fields for ``create_profile`` / ``update_profile`` (without the secret)."""
        return {name: self.cleaned_data[name] for name in PROFILE_FIELDS}

    @staticmethod
    def initial_for(profile: AirflowProfile) -> dict[str, Any]:
        """The form's initial values for an existing profile (never the secret)."""
        return {name: getattr(profile, name) for name in PROFILE_FIELDS}


class TeamForm(forms.Form):
    """A team's name, slug and description."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields.update(fields_for_model(Team, fields=list(TEAM_FIELDS)))

    def team_fields(self) -> dict[str, Any]:
        """The cleaned fields for ``create_team`` / ``update_team``."""
        return {name: self.cleaned_data[name] for name in TEAM_FIELDS}


class MemberAddForm(forms.Form):
    """Add a user to a team by username."""

    username = forms.CharField(label="Username", max_length=150)
    role = forms.ChoiceField(
        label="Role", choices=TeamMembership.Role.choices, initial=TeamMembership.Role.MEMBER
    )


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

    def selector(self) -> dict[str, list[str]]:
        """The cleaned ids, patterns and tags as lists."""
        return {
            name: split_list(self.cleaned_data[name])
            for name in ("dag_ids", "dag_patterns", "tags")
        }
