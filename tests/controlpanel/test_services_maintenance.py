"""Maintenance services (``manage.py`` calls them): pruning history, rotating secrets."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from django.utils import timezone
from pytest_django import Settings

from controlpanel import crypto
from controlpanel.audit import Actor
from controlpanel.models import AirflowProfile, AuditEvent, Run
from controlpanel.services import maintenance
from tests.factories import ProfileFactory, RunFactory

pytestmark = pytest.mark.django_db
CLI = Actor.system(source="cli")


def test_pruning_deletes_old_finished_runs_and_records_how_many() -> None:
    RunFactory.create(is_finished=True, end_date=timezone.now() - timedelta(days=40))
    recent = RunFactory.create(is_finished=True, end_date=timezone.now() - timedelta(days=1))
    assert maintenance.history_to_prune(30).counts["runs"] == 1
    assert AuditEvent.objects.count() == 0  # counting changes nothing
    pruned = maintenance.prune_history(CLI, 30)
    assert list(Run.objects.all()) == [recent] and pruned.counts["runs"] == 1
    [event] = AuditEvent.objects.filter(action="history.prune")
    assert (event.outcome, event.source, event.payload["days"], event.payload["runs"]) == (
        "succeeded",
        "cli",
        30,
        1,
    )


def test_rotating_reencrypts_with_the_newest_key_and_records_the_counts(
    settings: Settings,
) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    profile = ProfileFactory.create(secret="s3cret")
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    assert maintenance.rotate_secrets(CLI) == maintenance.Rotated(profiles=1, webhooks=0)
    settings.FIELD_ENCRYPTION_KEYS = [new]
    stored = AirflowProfile.objects.get(pk=profile.pk).secret_encrypted
    assert crypto.decrypt(stored) == "s3cret"
    [event] = AuditEvent.objects.filter(action="secrets.rotate")
    assert (event.outcome, event.payload) == ("succeeded", {"profiles": 1})


def test_a_secret_no_key_opens_stops_rotation_and_nothing_is_recorded(
    settings: Settings,
) -> None:
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    ProfileFactory.create(secret="s3cret")
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(maintenance.SecretsNotRotated, match="cannot be decrypted"):
        maintenance.rotate_secrets(CLI)
    assert not AuditEvent.objects.filter(action="secrets.rotate").exists()
