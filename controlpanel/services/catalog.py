"""Keeping the DAG catalog (our copy of each profile's DAG list) in step with Airflow."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from controlpanel.airflow_clients import client_for
from controlpanel.models import AirflowProfile, Dag, tag_index_for
from dags_api import (
    AirflowClient,
    AirflowError,
    AirflowNotFound,
    DagDetails,
    param_order_from_source,
)
from dags_api import Dag as AirflowDag

log = logging.getLogger(__name__)


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
        "fileloc": dag.fileloc or "",
    }


def refresh_catalog(profile: AirflowProfile) -> CatalogSync:
    """Read the profile's DAG list from Airflow and write only what changed.

    DAGs Airflow no longer lists are kept (their runs stay browsable) but marked inactive.
    Params come from each DAG's details: read for new DAGs and then every
    ``PARAMS_REFRESH_SECONDS``, at most ``PARAMS_PER_SYNC`` DAGs a sync, so thousands of
    DAGs never mean thousands of requests at once. Raises dags_api errors when Airflow
    cannot be read; nothing is written then.
    """
    client = client_for(profile)
    listed = {d.dag_id: d for d in client.list_dags()}
    errors = _import_errors(client) if any(d.has_import_errors for d in listed.values()) else {}
    now = timezone.now()
    created = updated = unchanged = 0
    with transaction.atomic():
        known = {d.dag_id: d for d in Dag.objects.select_for_update().filter(profile=profile)}
        for dag_id, airflow_dag in listed.items():
            fields = _catalog_fields(airflow_dag)
            fields["import_errors"] = errors.get(fields["fileloc"], "")
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
    _refresh_some_params(profile, now)
    return CatalogSync(created, updated, len(gone), unchanged)


PARAMS_REFRESH_SECONDS = 600
PARAMS_PER_SYNC = 50


def _import_errors(client: AirflowClient) -> dict[str, str]:
    """File path -> the error Airflow raised importing it."""
    return {e.filename: e.stack_trace for e in client.list_import_errors()}


def _refresh_some_params(profile: AirflowProfile, now: datetime) -> None:
    """Read the details of the DAGs whose params are oldest (or never read)."""
    due = (
        Dag.objects.filter(profile=profile, is_active=True)
        .filter(
            Q(params_synced_at__isnull=True)
            | Q(params_synced_at__lt=now - timedelta(seconds=PARAMS_REFRESH_SECONDS))
        )
        .order_by(F("params_synced_at").asc(nulls_first=True))
        .values_list("dag_id", flat=True)[:PARAMS_PER_SYNC]
    )
    for dag_id in list(due):
        try:
            refresh_dag(profile, dag_id)
        except AirflowNotFound:
            continue  # deleted between the list and now; the next sync marks it inactive


def refresh_dag(profile: AirflowProfile, dag_id: str) -> Dag:
    """Read one DAG's details (params in their author's order, doc_md) into the catalog.

    On Airflow 2 this costs a second request, for the DAG's source (see ``_param_order``).
    """
    client = client_for(profile)
    details: DagDetails = client.get_dag(dag_id)
    param_order = _param_order(client, details)
    params = {
        name: {"default": p.default, "description": p.description, "schema": p.schema}
        for name, p in details.params.items()
    }
    now = timezone.now()
    fields = _catalog_fields(details)
    if not details.owners:
        del fields["owners"]  # the details endpoint leaves owners out; keep the list's
    dag, _ = Dag.objects.update_or_create(
        profile=profile,
        dag_id=dag_id,
        defaults={
            **fields,
            "params": params,
            "param_order": param_order,
            "doc_md": details.doc_md or "",
            "synced_at": now,
            "params_synced_at": now,
        },
    )
    return dag


def _param_order(client: AirflowClient, details: DagDetails) -> list[str]:
    """The names of the DAG's params in the order its author wrote them.

    Airflow 3 sends them in that order. Airflow 2 sorts them, so its order is read from the
    DAG's source file (parsed, never run); when that cannot be read or understood, Airflow's
    order is kept: a wrong order is better than a catalog that stops refreshing.
    """
    sent = list(details.params)
    if client.api.keeps_param_order or not sent or not details.file_token:
        return sent  # without the token Airflow 2 would need a second details request
    try:
        source = client.get_dag_source(details.dag_id, file_token=details.file_token)
    except AirflowError as exc:
        log.info("Kept Airflow's param order of DAG %s: %s", details.dag_id, exc)
        return sent
    written = param_order_from_source(source, details.dag_id, filename=details.fileloc)
    if written is None:
        log.info("Kept Airflow's param order of DAG %s: its source did not tell", details.dag_id)
        return sent
    # Params the file does not list (added elsewhere) follow in Airflow's order.
    return [name for name in written if name in details.params] + [
        name for name in sent if name not in written
    ]
