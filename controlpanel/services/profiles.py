"""Connection profiles: create, change, delete and test them (panel admins only).

Every attempt is audited, denied and refused ones too. The stored password or token never
reaches the audit trail: events say only whether it was changed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify

from controlpanel import crypto
from controlpanel.airflow_clients import client_for, forget_client
from controlpanel.audit import Actor, Outcome, audited
from controlpanel.models import PLAIN_HTTP_WARNING, AirflowProfile
from controlpanel.permissions import access_for, require
from controlpanel.services import lock_row
from controlpanel.services.catalog import sync_catalog_after_commit
from dags_api import (
    AirflowAuthError,
    AirflowClient,
    AirflowError,
    AirflowNotFound,
    AirflowUnavailable,
)

# The fields an admin edits; the secret is handled apart so it is never echoed anywhere.
PROFILE_FIELDS = (
    "name",
    "slug",
    "base_url",
    "auth_type",
    "username",
    "verify_tls",
    "ca_bundle",
    "timeout_seconds",
    "allow_insecure_http",
    "api_version",
    "is_active",
    "track_external_runs",
)
# Changing one of these may change which DAGs the panel sees: the catalog is read again.
CONNECTION_FIELDS = (
    "base_url",
    "auth_type",
    "username",
    "verify_tls",
    "ca_bundle",
    "allow_insecure_http",
    "api_version",
    "is_active",
)
# A DAG id nobody uses: triggering it answers 404 past Airflow's permission check, 403 before.
PERMISSION_PROBE_DAG_ID = "__panel_permission_probe__"

CREDENTIALS_REJECTED = "Airflow refused the credentials: check the credentials or the Airflow role."
CANNOT_TRIGGER = (
    "The Airflow user cannot start runs: give it the User, Op or Admin role in Airflow."
)
SCHEDULER_UNHEALTHY = "The Airflow scheduler is not healthy: new runs will not start until it is."
API_NOT_DETECTED = (
    "Could not tell which REST API this Airflow serves: the profile's API setting is kept."
)
API_MISMATCH = (
    "The profile was set to {setting}, but the server answers as {found}: the panel now "
    "uses {found}."
)
NOT_ALLOWED = "Only panel administrators may manage connection profiles."


@dataclass
class ConnectionReport:
    """What a connection test found out; None means the test could not tell."""

    ok: bool = False
    airflow_version: str | None = None
    api_version: str | None = None  # "v1" or "v2", as detected
    scheduler_healthy: bool | None = None
    credentials_accepted: bool | None = None
    dag_count: int | None = None
    can_trigger: bool | None = None
    auth_status: int | None = None  # the HTTP status of a refusal of the credentials
    warnings: list[str] = field(default_factory=list)
    error: str = ""

    def summary(self) -> str:
        """The result in one plain sentence (flash message and audit message)."""
        if self.error:
            return f"Connection test failed: {self.error}"
        return f"Connection test: {self.findings()}."

    def after_saving(self, auth_type: str) -> str:
        """What the test right after saving found, in one sentence (saving itself worked).

        "Saved. Airflow answered: ..." or "Saved, but ..." naming what to check.
        """
        if self.error:
            return f"Saved, but the connection test failed: {self.error}"
        if self.credentials_accepted is False:
            status = f" ({self.auth_status})" if self.auth_status else ""
            what = "password" if auth_type == AirflowProfile.AuthType.BASIC else "token"
            return f"Saved, but Airflow refused these credentials{status}: check the {what}."
        return f"Saved. Airflow answered: {self.findings()}."

    def findings(self) -> str:
        """Version, scheduler, credentials, DAG count and trigger right, comma-separated."""
        parts = [f"Airflow {self.airflow_version or 'of unknown version'}"]
        if self.api_version:
            parts[0] += f" (REST API {self.api_version})"
        parts.append(_words(self.scheduler_healthy, "scheduler healthy", "scheduler unhealthy"))
        parts.append(
            _words(self.credentials_accepted, "credentials accepted", "credentials rejected")
        )
        if self.dag_count is not None:
            parts.append(f"{self.dag_count} DAG{'' if self.dag_count == 1 else 's'}")
        parts.append(_words(self.can_trigger, "can trigger runs", "cannot trigger runs"))
        return ", ".join(p for p in parts if p)

    def as_payload(self) -> dict[str, Any]:
        """The report as audit payload."""
        return {**asdict(self), "summary": self.summary()}


def _words(value: bool | None, yes: str, no: str) -> str:
    return "" if value is None else (yes if value else no)


# --- checks shared by every change -----------------------------------------------------


def _require_manager(actor: Actor) -> None:
    require(access_for(actor.user).can_manage_profiles, NOT_ALLOWED)


def _profile_values(profile: AirflowProfile) -> dict[str, Any]:
    return {name: getattr(profile, name) for name in PROFILE_FIELDS}


# --- create, update, delete --------------------------------------------------------------


def create_profile(
    actor: Actor,
    *,
    name: str,
    slug: str,
    base_url: str,
    auth_type: str,
    username: str = "",
    secret: str = "",
    verify_tls: bool = True,
    ca_bundle: str = "",
    timeout_seconds: float = 30,
    allow_insecure_http: bool = False,
    api_version: str = AirflowProfile.ApiVersion.AUTO,
    is_active: bool = True,
    track_external_runs: bool = True,
) -> AirflowProfile:
    """Add a connection profile, its secret encrypted; raises ValidationError when refused.

    An empty ``slug`` is made from the name ("Data Lake" -> "data-lake").
    """
    slug = slug.strip() or slugify(name)
    with audited(actor, "profile.create", profile=slug, failed=(ValidationError,)) as event:
        _require_manager(actor)
        profile = AirflowProfile(
            name=name,
            slug=slug,
            base_url=base_url.strip(),
            auth_type=auth_type,
            username=username,
            verify_tls=verify_tls,
            ca_bundle=ca_bundle,
            timeout_seconds=timeout_seconds,
            allow_insecure_http=allow_insecure_http,
            api_version=api_version,
            is_active=is_active,
            track_external_runs=track_external_runs,
        )
        profile.set_secret(secret)
        try:
            profile.full_clean()
        finally:  # refused or not, the payload shows the cleaned values
            event.payload = {**_profile_values(profile), "secret_changed": bool(secret)}
        profile.save()
        event.profile = profile
        if profile.is_active:
            sync_catalog_after_commit(profile)  # its DAGs listed within seconds, not a minute
    return profile


def update_profile(
    actor: Actor, profile: AirflowProfile, *, new_secret: str | None = None, **fields: Any
) -> AirflowProfile:
    """Change a profile; an empty ``new_secret`` keeps the stored password or token.

    On refusal (ValidationError) the profile object is left as it was.
    """
    with audited(actor, "profile.update", profile=profile, failed=(ValidationError,)) as event:
        _require_manager(actor)
        unknown = set(fields) - set(PROFILE_FIELDS)
        if unknown:
            raise TypeError(f"update_profile() got unknown fields: {', '.join(sorted(unknown))}")
        before, stored_secret = _profile_values(profile), profile.secret_encrypted
        for name, value in fields.items():
            setattr(profile, name, value)
        if new_secret:
            profile.set_secret(new_secret)
        try:
            profile.full_clean()  # before comparing, so the payload shows cleaned values
        except ValidationError:
            event.payload = _changes(profile, before, bool(new_secret))
            for name, value in before.items():
                setattr(profile, name, value)
            profile.secret_encrypted = stored_secret
            raise
        event.payload = _changes(profile, before, bool(new_secret))
        profile.save()
        transaction.on_commit(partial(forget_client, profile.pk))
        if profile.is_active and (new_secret or set(event.payload) & set(CONNECTION_FIELDS)):
            sync_catalog_after_commit(profile)
    return profile


def _changes(
    profile: AirflowProfile, before: dict[str, Any], secret_changed: bool
) -> dict[str, Any]:
    """The fields whose value differs from ``before``, with their new values."""
    after = _profile_values(profile)
    changed = {name: value for name, value in after.items() if value != before[name]}
    return {**changed, "secret_changed": secret_changed}


def changes_connection(
    profile: AirflowProfile, new_secret: str | None = None, **fields: Any
) -> bool:
    """Whether saving ``fields`` would change how the panel reaches Airflow.

    A new address, login, password or token, or TLS setting: worth testing on save.
    """
    if new_secret:
        return True
    return any(
        name in fields and fields[name] != getattr(profile, name) for name in CONNECTION_FIELDS
    )


def delete_profile(actor: Actor, profile: AirflowProfile) -> None:
    """Delete a profile with its DAG catalog, runs and grants (they cascade)."""
    profile_id = profile.pk
    payload = {"name": profile.name, "slug": profile.slug, "base_url": profile.base_url}
    with audited(actor, "profile.delete", profile=profile.slug) as event:
        _require_manager(actor)
        event.payload = payload
        lock_row(profile, "This Airflow connection was deleted meanwhile.").delete()
        transaction.on_commit(partial(forget_client, profile_id))


# --- connection test ---------------------------------------------------------------------


def test_profile(actor: Actor, profile: AirflowProfile) -> ConnectionReport:
    """Ask the profile's Airflow who it is and what the panel's user may do there.

    Airflow failures end up in the report, never raised. Audited with the report as payload.
    """
    with audited(actor, "profile.test", profile=profile, atomic=False) as event:
        _require_manager(actor)
        report = check_connection(profile)
        payload = report.as_payload()
        with transaction.atomic():
            if report.api_version and report.api_version != profile.api_version:
                # What the server answered is stored, so workers need not detect it again.
                payload["api_version_stored"] = {
                    "from": profile.api_version,
                    "to": report.api_version,
                }
                profile.api_version = report.api_version
                AirflowProfile.objects.filter(pk=profile.pk).update(api_version=report.api_version)
                transaction.on_commit(partial(forget_client, profile.pk))
            event.payload = payload
            event.outcome = Outcome.SUCCEEDED if report.ok else Outcome.FAILED
            event.message = report.summary()
            event.record()
    return report


# Its name starts with "test": keep pytest from collecting it where a test module imports it.
test_profile.__test__ = False  # type: ignore[attr-defined]


def test_after_saving(actor: Actor, profile: AirflowProfile) -> ConnectionReport | None:
    """Test a profile just added or re-addressed; None when it is switched off (not used).

    The save has already happened: whatever the test finds is reported, never undone.
    """
    if not profile.is_active:
        return None
    return test_profile(actor, profile)


test_after_saving.__test__ = False  # type: ignore[attr-defined]


def check_connection(profile: AirflowProfile) -> ConnectionReport:
    """Version, scheduler health, credentials, DAG count and trigger permission (no audit)."""
    report = ConnectionReport()
    if profile.is_plain_http:
        report.warnings.append(PLAIN_HTTP_WARNING)
    try:
        client = client_for(profile)
        _detect_api(client, profile, report)
        report.airflow_version = client.version().version
        report.scheduler_healthy = client.health().scheduler_healthy
        if not report.scheduler_healthy:
            report.warnings.append(SCHEDULER_UNHEALTHY)
        _check_credentials(client, report)
    except AirflowUnavailable as exc:
        report.error = exc.user_message
        report.warnings.append(f"Airflow is unreachable: {exc.user_message}")
    except AirflowError as exc:
        report.error = exc.user_message
        report.warnings.append(f"Airflow answered with an error: {exc.user_message}")
    except crypto.SecretUnreadable as exc:
        report.error = f"{exc} Enter the password or token again."
    report.ok = not report.error and bool(report.credentials_accepted)
    return report


def _detect_api(client: AirflowClient, profile: AirflowProfile, report: ConnectionReport) -> None:
    """Which REST API the server answers on (/api/v2 is Airflow 3, /api/v1 Airflow 2)."""
    try:
        report.api_version = client.detect_api_version()
    except AirflowUnavailable:
        raise
    except AirflowError:
        # Neither version endpoint answered as expected: keep what the profile says.
        report.warnings.append(API_NOT_DETECTED)
        return
    if profile.api_version not in (AirflowProfile.ApiVersion.AUTO, report.api_version):
        report.warnings.append(
            API_MISMATCH.format(
                setting=profile.get_api_version_display(),
                found=AirflowProfile.ApiVersion(report.api_version).label,
            )
        )


def _check_credentials(client: AirflowClient, report: ConnectionReport) -> None:
    """List the DAGs (needs valid credentials), then probe the trigger permission."""
    try:
        dags = client.list_dags()
    except AirflowAuthError as refused:
        report.credentials_accepted = False
        report.auth_status = refused.status_code
        report.warnings.append(CREDENTIALS_REJECTED)
        return
    report.credentials_accepted = True
    report.dag_count = len(dags)
    report.can_trigger = _can_trigger(client)
    if report.can_trigger is False:
        report.warnings.append(CANNOT_TRIGGER)


def _can_trigger(client: AirflowClient) -> bool | None:
    """Trigger a DAG that cannot exist: Airflow 2 checks the permission before the DAG.

    404 means the user passed the permission check, 403 means the role may not trigger.
    (Verified against Airflow 2.11 in tests/controlpanel/test_services_profiles.py.)
    """
    try:
        client.trigger_dag_run(PERMISSION_PROBE_DAG_ID)
    except AirflowNotFound:
        return True
    except AirflowAuthError:
        return False
    except AirflowError:
        return None
    return True  # someone made a DAG with the probe's id, and the user could trigger it
