"""Grant preview and grants by DAG id: an unread catalog, and DAG ids nobody knows."""

from __future__ import annotations

from collections.abc import Callable

from django.test import Client
from django.urls import reverse

from controlpanel.models import AirflowProfile, DagGrant
from controlpanel.services import teams as team_services
from tests.factories import DagFactory, ProfileFactory
from tests.world import World

ClientAs = Callable[[str], Client]
NOT_READ = (
    "The DAG list of this connection has not been read yet; "
    "the preview will fill in after the first sync."
)


def preview(client: Client, profile: AirflowProfile, **selector: str) -> str:
    """The htmx preview of a grant on ``profile`` for the etl-ops team."""
    response = client.post(
        reverse("manage:grant_preview", args=["etl-ops"]),
        {"profile": profile.pk, "level": "view", **selector},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    return response.content.decode()


def test_before_the_first_sync_the_preview_says_so(world: World, client_as: ClientAs) -> None:
    fresh = ProfileFactory.create(slug="fresh", name="Fresh", catalog_synced_at=None)
    html = preview(client_as("superuser"), fresh, dag_ids="anything", dag_patterns="x_*")
    assert NOT_READ in html
    assert "No DAG of Fresh matches" not in html and "No DAG called" not in html


def test_after_the_sync_an_empty_match_is_said_plainly(world: World, client_as: ClientAs) -> None:
    html = preview(client_as("superuser"), world.prod, dag_patterns="nothing_*")
    assert "No DAG of Production matches this selection today." in html
    assert NOT_READ not in html


def test_a_mistyped_dag_id_gets_a_warning_with_close_matches(
    world: World, client_as: ClientAs
) -> None:
    html = preview(client_as("superuser"), world.prod, dag_ids="finance_dialy, orders_etl")
    assert (
        "No DAG called finance_dialy on this connection — check the spelling. "
        "Did you mean finance_daily or finance_monthly?"  # closest first
    ) in html
    assert "No DAG called orders_etl" not in html  # it exists
    assert "This grant would cover 1 DAG of Production today" in html
    far = preview(client_as("superuser"), world.prod, dag_ids="zzz")
    assert "No DAG called zzz on this connection — check the spelling.</li>" in far


def test_a_grant_by_an_unknown_dag_id_is_saved_with_the_warning(
    world: World, client_as: ClientAs
) -> None:
    response = client_as("superuser").post(
        reverse("manage:grant_add", args=["etl-ops"]),
        {"profile": world.prod.pk, "dag_ids": "finance_monthy", "level": "view"},
        follow=True,
    )
    page = response.content.decode()
    assert "Grant added." in page
    assert "No DAG called finance_monthy on this connection" in page
    assert "Did you mean finance_monthly" in page
    assert DagGrant.objects.filter(dag_ids=["finance_monthy"]).exists()


def test_close_matches_come_from_this_connection_only(world: World) -> None:
    DagFactory.create(profile=world.staging, dag_id="staging_only_dag")
    warnings = team_services.unknown_dag_warnings(world.prod, ["staging_only_dag"])
    assert warnings == ["No DAG called staging_only_dag on this connection — check the spelling."]
    assert team_services.unknown_dag_warnings(world.staging, ["staging_only_dag"]) == []


def test_no_warning_before_the_first_sync(world: World) -> None:
    fresh = ProfileFactory.create(slug="fresh", catalog_synced_at=None)
    assert team_services.unknown_dag_warnings(fresh, ["anything"]) == []
