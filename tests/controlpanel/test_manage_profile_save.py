"""Connection form: the slug made from the name, and the connection tested on save.

Against a mocked Airflow for the shapes, against the real harness Airflow for the right
password, a wrong one, and an Airflow that is down (a closed port).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import responses
from django.test import Client
from django.urls import reverse

from controlpanel.models import AirflowProfile, AuditEvent
from tests.harness.airflow import AirflowInstance, free_port
from tests.helpers.profiles import mock_airflow
from tests.world import World

ClientAs = Callable[[str], Client]
LAKE = "https://lake.example.invalid"


def form(**overrides: str) -> dict[str, str]:
    """Valid POST data of the connection form."""
    data = {
        "name": "Data Lake EU",
        "slug": "",
        "base_url": LAKE,
        "auth_type": "basic",
        "username": "panel",
        "secret": "s3cret-pw",
        "verify_tls": "on",
        "timeout_seconds": "10",
        "api_version": "auto",
        "is_active": "on",
    }
    return {**data, **overrides}


def said(response: object) -> list[str]:
    """The flash messages a followed response showed."""
    return [str(m) for m in response.context["messages"]]  # type: ignore[attr-defined]


@pytest.fixture
def lake() -> Iterator[responses.RequestsMock]:
    """An Airflow 2.11 at LAKE (mocked: no network)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        mock_airflow(rsps, LAKE)
        yield rsps


# --- the slug ----------------------------------------------------------------------------------


def test_an_empty_slug_is_made_from_the_name(
    world: World, client_as: ClientAs, lake: responses.RequestsMock
) -> None:
    response = client_as("superuser").post(reverse("manage:profile_create"), form())
    assert response.status_code == 302
    assert AirflowProfile.objects.get(name="Data Lake EU").slug == "data-lake-eu"


def test_a_slug_typed_by_hand_is_kept(
    world: World, client_as: ClientAs, lake: responses.RequestsMock
) -> None:
    client_as("superuser").post(reverse("manage:profile_create"), form(slug="lake"))
    assert AirflowProfile.objects.get(name="Data Lake EU").slug == "lake"


def test_the_slug_follows_the_name_only_on_a_new_connection(
    world: World, client_as: ClientAs
) -> None:
    client = client_as("superuser")
    new = client.get(reverse("manage:profile_create")).content.decode()
    assert 'data-slug-from="id_name"' in new and "js/slug-from-name.js" in new
    assert "Filled in from the name as you type" in new
    edit = client.get(reverse("manage:profile_edit", args=["prod"])).content.decode()
    assert "data-slug-from" not in edit and "slug-from-name.js" not in edit  # renames keep it
    refused = client.post(reverse("manage:profile_edit", args=["prod"]), form(name="Prod"))
    assert b"This field is required." in refused.content  # editing needs a slug


# --- the test on save (mocked Airflow) -----------------------------------------------------------


def test_a_new_connection_is_tested_and_the_answer_shown(
    world: World, client_as: ClientAs, lake: responses.RequestsMock
) -> None:
    response = client_as("superuser").post(reverse("manage:profile_create"), form(), follow=True)
    assert said(response) == [
        "Profile Data Lake EU created. Its DAG list is being read from Airflow.",
        "Saved. Airflow answered: Airflow 2.11.0 (REST API v1), scheduler healthy, "
        "credentials accepted, 2 DAGs, can trigger runs.",
    ]
    event = AuditEvent.objects.get(action="profile.test")
    assert (event.outcome, event.profile_slug) == ("succeeded", "data-lake-eu")


def test_rejected_credentials_are_a_warning_and_the_connection_is_saved(
    world: World, client_as: ClientAs
) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        mock_airflow(rsps, LAKE, dags_status=401)
        response = client_as("superuser").post(
            reverse("manage:profile_create"), form(auth_type="bearer"), follow=True
        )
    assert "Saved, but Airflow refused these credentials (401): check the token." in said(response)
    assert 'message--warning">Saved, but' in response.content.decode()
    assert AirflowProfile.objects.filter(slug="data-lake-eu").exists()


def test_an_edit_is_tested_only_when_the_connection_changes(
    world: World, client_as: ClientAs, lake: responses.RequestsMock
) -> None:
    client = client_as("superuser")
    client.post(reverse("manage:profile_create"), form(slug="lake"), follow=True)
    edit = reverse("manage:profile_edit", args=["lake"])
    # The test stored the API it found (v1): the form shows that from now on.
    assert AirflowProfile.objects.get(slug="lake").api_version == "v1"
    same = {"slug": "lake", "name": "Lake", "api_version": "v1"}
    renamed = client.post(edit, form(**same, secret=""), follow=True)
    assert said(renamed) == ["Profile saved."]
    assert AuditEvent.objects.filter(action="profile.test").count() == 1  # the create's
    for change in ({"secret": "new-pw"}, {"username": "other", "secret": ""}, {"verify_tls": ""}):
        response = client.post(edit, form(**same, **change), follow=True)
        assert said(response)[1].startswith("Saved. Airflow answered: Airflow 2.11.0"), change
    assert AuditEvent.objects.filter(action="profile.test").count() == 4


def test_an_inactive_connection_is_not_tested(
    world: World, client_as: ClientAs, lake: responses.RequestsMock
) -> None:
    response = client_as("superuser").post(
        reverse("manage:profile_create"), form(is_active=""), follow=True
    )
    assert said(response) == [
        "Profile Data Lake EU created.",
        "The connection is not active, so it was not tested.",
    ]
    assert not AuditEvent.objects.filter(action="profile.test").exists()


# --- the test on save against the real Airflow ----------------------------------------------------


def harness_form(airflow: AirflowInstance, password: str, **overrides: str) -> dict[str, str]:
    """The form for the harness Airflow (plain http on loopback, so allowed explicitly)."""
    return form(
        base_url=airflow.url,
        username="admin",
        secret=password,
        allow_insecure_http="on",
        **overrides,
    )


@pytest.mark.airflow
def test_real_airflow_right_password(
    world: World, client_as: ClientAs, panel_airflow: AirflowInstance
) -> None:
    airflow = panel_airflow
    response = client_as("superuser").post(
        reverse("manage:profile_create"),
        harness_form(airflow, airflow.password("admin")),
        follow=True,
    )
    messages = said(response)
    assert messages[1].startswith(
        f"Saved. Airflow answered: Airflow {airflow.version} (REST API {airflow.api_version}), "
        "scheduler healthy, credentials accepted, "
    ), messages
    assert messages[1].endswith(" DAGs, can trigger runs.")


@pytest.mark.airflow
def test_real_airflow_wrong_password(
    world: World, client_as: ClientAs, panel_airflow: AirflowInstance
) -> None:
    airflow = panel_airflow
    response = client_as("superuser").post(
        reverse("manage:profile_create"), harness_form(airflow, "not-the-password"), follow=True
    )
    messages = said(response)
    assert "Saved, but Airflow refused these credentials (401): check the password." in messages
    assert AirflowProfile.objects.get(slug="data-lake-eu").reveal_secret() == "not-the-password"
    assert AuditEvent.objects.get(action="profile.test").outcome == "failed"


@pytest.mark.airflow
def test_real_airflow_wrong_password_on_an_edit(
    world: World, client_as: ClientAs, airflow: AirflowInstance
) -> None:
    client = client_as("superuser")
    client.post(
        reverse("manage:profile_create"),
        harness_form(airflow, airflow.password("admin")),
        follow=True,
    )
    response = client.post(
        reverse("manage:profile_edit", args=["data-lake-eu"]),
        harness_form(airflow, "typo-pw", slug="data-lake-eu"),
        follow=True,
    )
    assert said(response)[:2] == [
        "Profile saved.",
        "Saved, but Airflow refused these credentials (401): check the password.",
    ]


def test_airflow_down_is_a_warning_and_the_connection_is_saved(
    world: World, client_as: ClientAs
) -> None:
    port = free_port()
    response = client_as("superuser").post(
        reverse("manage:profile_create"),
        form(base_url=f"http://127.0.0.1:{port}", allow_insecure_http="on"),
        follow=True,
    )
    messages = said(response)
    assert (
        "Saved, but the connection test failed: "
        f"Airflow at 127.0.0.1:{port} refused the connection; is it running?"
    ) in messages
    assert not any(m.startswith("Airflow is unreachable") for m in messages)  # said once
    assert AirflowProfile.objects.filter(slug="data-lake-eu").exists()
