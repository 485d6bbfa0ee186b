"""Keeping the DAG catalog (our copy of each profile's DAG list) in step with Airflow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from controlpanel.airflow_clients import client_for
from controlpanel.models import AirflowProfile, Dag, tag_index_for
from dags_api import Dag as AirflowDag
from dags_api import DagDetails


@dataclass(frozen=True)
class CatalogSync:
    """What one catalog refresh changed."""

    created: int
    updated: int
    deactivated: int
    unchanged: int


def _catalog_fields(dag: AirflowDag) -> dict[str, Any]:
    """The catalog columns that come from Airflow's DAG list."""
    return {
        "display_name": dag.display_name,
        "description": dag.description or "",
        "tags": list(dag.tags),
        "tag_index": tag_index_for(dag.tags),
        "is_paused": dag.is_paused,
        "is_active": dag.is_active,
        "owners": list(dag.owners),
        "has_import_errors": dag.has_import_errors,
    }


def refresh_catalog(profile: AirflowProfile) -> CatalogSync:
    """Read the profile's DAG list from Airflow and write only what changed.

    DAGs Airflow no longer lists are kept (their runs stay browsable) but marked inactive.
    Raises dags_api errors when Airflow cannot be read; nothing is written then.
    """
    listed = {d.dag_id: d for d in client_for(profile).list_dags()}
    now = timezone.now()
    created = updated = unchanged = 0
    with transaction.atomic():
        known = {d.dag_id: d for d in Dag.objects.select_for_update().filter(profile=profile)}
        for dag_id, airflow_dag in listed.items():
            fields = _catalog_fields(airflow_dag)
            row = known.get(dag_id)
            if row is None:
                Dag.objects.create(profile=profile, dag_id=dag_id, synced_at=now, **fields)
                created += 1
            elif any(getattr(row, name) != value for name, value in fields.items()):
                Dag.objects.filter(pk=row.pk).update(synced_at=now, **fields)
                updated += 1
            else:
                unchanged += 1
        gone = [row.pk for dag_id, row in known.items() if dag_id not in listed and row.is_active]
        Dag.objects.filter(pk__in=gone).update(is_active=False, synced_at=now)
    return CatalogSync(created, updated, len(gone), unchanged)


def refresh_dag(profile: AirflowProfile, dag_id: str) -> Dag:
    """Read one DAG's details (including params) from Airflow into the catalog."""
    details: DagDetails = client_for(profile).get_dag(dag_id)
    params = {
        name: {"default": p.default, "description": p.description, "schema": p.schema}
        for name, p in details.params.items()
    }
    dag, _ = Dag.objects.update_or_create(
        profile=profile,
        dag_id=dag_id,
        defaults={**_catalog_fields(details), "params": params, "synced_at": timezone.now()},
    )
    return dag
