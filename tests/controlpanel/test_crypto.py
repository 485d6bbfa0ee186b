"""Connection secrets at rest: encrypted in the database, readable with any configured key,
re-encrypted by ``rotate_encryption_keys``, and the start-up check for missing keys."""

from __future__ import annotations

import io

import pytest
from cryptography.fernet import Fernet
from django.core.checks import CheckMessage, Error
from django.core.management import call_command
from django.core.management.base import CommandError, SystemCheckError
from django.db import connection
from pytest_django import Settings

from controlpanel import crypto
from controlpanel.audit import verify_chain
from controlpanel.checks import check_field_encryption_keys
from controlpanel.models import AirflowProfile, AuditEvent
from tests.factories import ProfileFactory

KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()
KEY_C = Fernet.generate_key().decode()


def stored_row(profile: AirflowProfile) -> tuple[object, ...]:
    """The profile's whole row as the database holds it, bypassing the model."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT * FROM {AirflowProfile._meta.db_table} WHERE id = %s",  # noqa: S608
            [profile.pk],
        )
        row = cursor.fetchone()
    assert row is not None
    return tuple(row)


def stored_secret(profile: AirflowProfile) -> str:
    """The secret column as stored."""
    return AirflowProfile.objects.values_list("secret_encrypted", flat=True).get(pk=profile.pk)


def rotate() -> str:
    """Run the rotation command and return what it printed."""
    out = io.StringIO()
    call_command("rotate_encryption_keys", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_the_database_never_holds_the_plaintext() -> None:
    profile = ProfileFactory.create(secret="s3cret-airflow-pass")
    row = stored_row(profile)
    assert not any("s3cret-airflow-pass" in str(value) for value in row)
    assert stored_secret(profile).startswith("gAAAA")  # a Fernet token


@pytest.mark.django_db
def test_a_stored_secret_decrypts_to_what_was_entered() -> None:
    profile = ProfileFactory.create(secret="pä$$ wörd")
    assert AirflowProfile.objects.get(pk=profile.pk).reveal_secret() == "pä$$ wörd"


@pytest.mark.django_db
def test_the_same_secret_encrypts_differently_each_time() -> None:
    # Fernet's random IV: equal passwords on two profiles cannot be spotted in the table.
    first = ProfileFactory.create(secret="same")
    second = ProfileFactory.create(secret="same")
    assert stored_secret(first) != stored_secret(second)


@pytest.mark.django_db
def test_rotation_moves_every_secret_to_the_newest_key(settings: Settings) -> None:
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A]
    with_secret = ProfileFactory.create(secret="old-password")
    token = ProfileFactory.create(auth_type=AirflowProfile.AuthType.BEARER, secret="tok-123")
    without_secret = ProfileFactory.create(secret="")
    updated_at = AirflowProfile.objects.get(pk=with_secret.pk).updated_at

    settings.FIELD_ENCRYPTION_KEYS = [KEY_B, KEY_A]  # step 1: the new key first
    assert AirflowProfile.objects.get(pk=with_secret.pk).reveal_secret() == "old-password"

    assert rotate().strip() == "Re-encrypted 2 secrets with the newest key."

    settings.FIELD_ENCRYPTION_KEYS = [KEY_B]  # step 3: the old key removed
    assert AirflowProfile.objects.get(pk=with_secret.pk).reveal_secret() == "old-password"
    assert AirflowProfile.objects.get(pk=token.pk).reveal_secret() == "tok-123"
    assert stored_secret(without_secret) == ""
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A]
    with pytest.raises(crypto.SecretUnreadable):
        AirflowProfile.objects.get(pk=with_secret.pk).reveal_secret()
    # Re-encrypting is not an edit of the profile.
    assert AirflowProfile.objects.get(pk=with_secret.pk).updated_at == updated_at


@pytest.mark.django_db
def test_rotation_is_audited_once(settings: Settings) -> None:
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A]
    ProfileFactory.create_batch(3)
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B, KEY_A]
    rotate()
    event = AuditEvent.objects.get(action="secrets.rotate")
    assert event.source == AuditEvent.Source.CLI
    assert event.outcome == AuditEvent.Outcome.SUCCEEDED
    assert event.payload == {"profiles": 3}
    assert event.actor is None
    assert verify_chain().ok


@pytest.mark.django_db
def test_an_undecryptable_secret_stops_rotation_and_changes_nothing(settings: Settings) -> None:
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A]
    readable = ProfileFactory.create(slug="prod")
    settings.FIELD_ENCRYPTION_KEYS = [KEY_C]  # a key nobody kept
    lost = ProfileFactory.create(slug="legacy")
    before = {p.pk: stored_secret(p) for p in (readable, lost)}

    settings.FIELD_ENCRYPTION_KEYS = [KEY_B, KEY_A]
    with pytest.raises(CommandError) as failure:
        rotate()

    assert failure.value.returncode == 1  # what manage.py exits with
    assert "profile 'legacy' cannot be decrypted" in str(failure.value)
    assert "nothing was changed" in str(failure.value)
    assert {p.pk: stored_secret(p) for p in (readable, lost)} == before
    assert not AuditEvent.objects.filter(action="secrets.rotate").exists()


@pytest.mark.django_db
def test_rotation_without_keys_in_production_says_what_to_set(settings: Settings) -> None:
    ProfileFactory.create()
    settings.DEBUG = False
    settings.FIELD_ENCRYPTION_KEYS = []
    with pytest.raises(CommandError, match="FIELD_ENCRYPTION_KEYS is not set"):
        rotate()


# --- the system check -------------------------------------------------------------------------


def error_ids(messages: list[CheckMessage]) -> list[str]:
    """The ids of the Error messages a check returned."""
    return [m.id for m in messages if isinstance(m, Error) and m.id]


def test_check_errors_without_keys_when_debug_is_off(settings: Settings) -> None:
    settings.DEBUG = False
    settings.FIELD_ENCRYPTION_KEYS = []
    assert error_ids(check_field_encryption_keys()) == ["controlpanel.E001"]


def test_check_accepts_no_keys_in_debug(settings: Settings) -> None:
    settings.DEBUG = True
    settings.FIELD_ENCRYPTION_KEYS = []
    assert check_field_encryption_keys() == []


def test_check_names_an_invalid_key_by_position_without_echoing_it(settings: Settings) -> None:
    settings.DEBUG = False
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A, "not-a-real-key-but-secret"]
    messages = check_field_encryption_keys()
    assert error_ids(messages) == ["controlpanel.E002"]
    assert "Key number 2" in str(messages[0])
    assert "not-a-real-key-but-secret" not in str(messages[0])


def test_check_passes_with_valid_keys(settings: Settings) -> None:
    settings.DEBUG = False
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B, KEY_A]
    assert check_field_encryption_keys() == []


def test_manage_py_check_refuses_to_start_without_keys(settings: Settings) -> None:
    settings.DEBUG = False
    settings.FIELD_ENCRYPTION_KEYS = []
    with pytest.raises(SystemCheckError, match=r"controlpanel\.E001"):
        call_command("check", stdout=io.StringIO(), stderr=io.StringIO())
