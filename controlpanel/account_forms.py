"""Forms of the user administration and API token pages; the services do the checking."""

from __future__ import annotations

from typing import Any

from django import forms

PASSWORD_CHOICES = (
    ("generate", "Generate one now (shown once, for you to hand over)"),
    ("type", "Type one"),
    ("later", "None yet: set one later with Reset password"),
)
RESET_CHOICES = PASSWORD_CHOICES[:2]
EXPIRY_CHOICES = (
    ("30", "In 30 days"),
    ("90", "In 90 days"),
    ("365", "In a year"),
    ("", "Never"),
)


def _password_field() -> forms.CharField:
    return forms.CharField(
        label="The password you type",
        required=False,
        strip=False,
        help_text="Only when you type one. The usual rules apply (length, not too common).",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )


class PasswordChoiceForm(forms.Form):
    """A form with a "generate / type / later" choice and the typed password next to it."""

    def clean(self) -> dict[str, Any]:
        """A typed password is needed only when "Type one" is chosen."""
        data = super().clean() or {}
        if data.get("password_choice") == "type" and not data.get("password"):
            self.add_error("password", "Type the password, or choose to generate one.")
        return data

    def generates(self) -> bool:
        """True when the panel is to make the password up."""
        return bool(self.cleaned_data.get("password_choice") == "generate")

    def leaves_for_later(self) -> bool:
        """True when the user gets no password for now."""
        return bool(self.cleaned_data.get("password_choice") == "later")

    def chosen_password(self) -> str:
        """The typed password, or "" (generate or later)."""
        if self.cleaned_data.get("password_choice") == "type":
            return str(self.cleaned_data.get("password") or "")
        return ""


class UserCreateForm(PasswordChoiceForm):
    """A new user: who they are, how they get a password, and their roles."""

    username = forms.CharField(max_length=150)
    email = forms.EmailField(required=False)
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    password_choice = forms.ChoiceField(
        label="Password", choices=PASSWORD_CHOICES, initial="generate", widget=forms.RadioSelect
    )
    password = _password_field()
    is_auditor = forms.BooleanField(
        label="Audit reviewer",
        required=False,
        help_text="May read every run and the audit trail, and change nothing.",
    )
    is_superuser = forms.BooleanField(
        label="Panel administrator",
        required=False,
        help_text="May do everything, including managing users.",
    )


class UserEditForm(forms.Form):
    """What an admin may change about a user from the panel."""

    email = forms.EmailField(required=False)
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    is_auditor = forms.BooleanField(
        label="Audit reviewer",
        required=False,
        help_text="May read every run and the audit trail, and change nothing.",
    )
    is_active = forms.BooleanField(
        label="Active",
        required=False,
        help_text="Untick to deactivate: they can no longer sign in and their API tokens stop "
        "working. Their history is kept.",
    )


class PasswordResetForm(PasswordChoiceForm):
    """An admin sets someone's password: a generated one or one they type."""

    password_choice = forms.ChoiceField(
        label="New password", choices=RESET_CHOICES, initial="generate", widget=forms.RadioSelect
    )
    password = _password_field()


class TokenCreateForm(forms.Form):
    """A new API token for the signed-in user."""

    name = forms.CharField(
        max_length=100, help_text="What it is for, e.g. the script or system that uses it."
    )
    expires_days = forms.TypedChoiceField(
        label="Expires",
        choices=EXPIRY_CHOICES,
        coerce=int,
        empty_value=None,
        required=False,
        initial="90",
    )
    read_only = forms.BooleanField(
        label="Read-only",
        required=False,
        help_text="It may read but never trigger, pause, retry or change anything.",
    )
