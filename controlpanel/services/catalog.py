"""Keeping the DAG catalog (our copy of each profile's DAG list) in step with Airflow."""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from celery import current_app
from django.db import transaction
from django.db.models import QuerySet
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


# The catalog columns that come from Airflow's DAG list.
LIST_FIELDS = (
    "display_name",
    "description",
    "tags",
    "tag_index",
    "is_paused",
    "is_active",
    "owners",
    "has_import_errors",
    "fileloc",
)


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
    Params and doc_md are read when a DAG is first opened (``refresh_dag``), then again by
    a sync only when Airflow parsed the DAG's file since and that file's source changed:
    one source request per re-parsed file, one details request per changed DAG (at most
    ``DETAILS_PER_SYNC`` a sync). Raises dags_api errors when the DAG list cannot be read;
    nothing is written then.
    """
    client = client_for(profile)
    listed = {d.dag_id: d for d in client.list_dags()}
    errors = _import_errors(client) if any(d.has_import_errors for d in listed.values()) else {}
    now = timezone.now()
    with transaction.atomic():
        known = {d.dag_id: d for d in _locked_catalog(profile)}
        result = _write_list(profile, listed, known, errors, now)
        AirflowProfile.objects.filter(pk=profile.pk).update(catalog_synced_at=now)
    _refresh_changed_details(client, profile, listed, known)
    return result


# A sync re-reads at most this many changed DAGs' details; the rest follow at the next one.
DETAILS_PER_SYNC = 100
# The columns a sync compares or decides with (never the params or doc_md of every DAG).
SYNC_COLUMNS = (
    *LIST_FIELDS,
    "dag_id",
    "import_errors",
    "last_parsed_at",
    "source_digest",
    "params_synced_at",
)


def _import_errors(client: AirflowClient) -> dict[str, str]:
    """File path -> the error Airflow raised importing it."""
    return {e.filename: e.stack_trace for e in client.list_import_errors()}


def _locked_catalog(profile: AirflowProfile) -> QuerySet[Dag]:
    """The profile's catalog rows, locked until the sync's transaction ends."""
    return Dag.objects.select_for_update().filter(profile=profile).only(*SYNC_COLUMNS)


def _write_list(
    profile: AirflowProfile,
    listed: dict[str, AirflowDag],
    known: dict[str, Dag],
    errors: dict[str, str],
    now: datetime,
) -> CatalogSync:
    """Create, update and deactivate catalog rows so they say what Airflow listed."""
    new: list[Dag] = []
    changed: list[Dag] = []
    for dag_id, airflow_dag in listed.items():
        fields = _catalog_fields(airflow_dag)
        fields["import_errors"] = errors.get(fields["fileloc"], "")
        row = known.get(dag_id)
        if row is None:
            new.append(Dag(profile=profile, dag_id=dag_id, synced_at=now, **fields))
        elif any(getattr(row, name) != value for name, value in fields.items()):
            for name, value in fields.items():
                setattr(row, name, value)
            row.synced_at = now
            changed.append(row)
    Dag.objects.bulk_create(new, batch_size=500)
    Dag.objects.bulk_update(changed, [*LIST_FIELDS, "import_errors", "synced_at"], batch_size=500)
    gone = [row.pk for dag_id, row in known.items() if dag_id not in listed and row.is_active]
    Dag.objects.filter(pk__in=gone).update(is_active=False, synced_at=now)
    unchanged = len(listed) - len(new) - len(changed)
    return CatalogSync(len(new), len(changed), len(gone), unchanged)


def _refresh_changed_details(
    client: AirflowClient,
    profile: AirflowProfile,
    listed: dict[str, AirflowDag],
    known: dict[str, Dag],
) -> None:
    """Re-read params and doc_md of the DAGs whose file Airflow parsed since and changed.

    DAGs whose details were never read are left for their first use. A file's source is
    read once for all the re-parsed DAGs it defines: unchanged, only their parse time moves.
    """
    by_file: dict[str, list[tuple[Dag, AirflowDag]]] = defaultdict(list)
    for dag_id, row in known.items():
        airflow_dag = listed.get(dag_id)
        if airflow_dag is not None and _reparsed(row, airflow_dag):
            by_file[airflow_dag.fileloc or dag_id].append((row, airflow_dag))
    budget = DETAILS_PER_SYNC
    for dags in by_file.values():
        if budget <= 0:
            break  # the rest stay due: the next sync goes on
        try:
            budget -= _check_file(client, profile, dags, budget)
        except AirflowNotFound:
            continue  # deleted between the list and now; the next sync marks it inactive


def _reparsed(row: Dag, airflow_dag: AirflowDag) -> bool:
    """True when the DAG's details were read and Airflow parsed its file after that."""
    parsed = airflow_dag.last_parsed_time
    if row.params_synced_at is None or parsed is None:
        return False
    return row.last_parsed_at is None or parsed > row.last_parsed_at


def _check_file(
    client: AirflowClient,
    profile: AirflowProfile,
    dags: list[tuple[Dag, AirflowDag]],
    budget: int,
) -> int:
    """Read one re-parsed file's source; re-read the details of its DAGs if it changed.

    Returns how many DAGs' details were read (at most ``budget``).
    """
    first = dags[0][1]
    source = client.get_dag_source(first.dag_id, file_token=first.file_token)
    digest = source_digest(source)
    same = [(row, airflow_dag) for row, airflow_dag in dags if row.source_digest == digest]
    for row, airflow_dag in same:
        row.last_parsed_at = airflow_dag.last_parsed_time
    Dag.objects.bulk_update([row for row, _ in same], ["last_parsed_at"], batch_size=500)
    changed = [row.dag_id for row, _ in dags if row.source_digest != digest][:budget]
    for dag_id in changed:
        refresh_dag(profile, dag_id, source=source)
    return len(changed)


def source_digest(source: str) -> str:
    """The sha256 of a DAG file's text: the same text, the same params and doc_md."""
    return hashlib.sha256(source.encode()).hexdigest()


SYNC_TASK = "controlpanel.tasks.sync_catalog"


def sync_catalog_after_commit(profile: AirflowProfile) -> None:
    """Have a worker sync the profile's catalog once the current transaction commits.

    Queued by the task's name (services never import the tasks). A broker that is down is
    logged, not raised: the periodic sync reads the DAG list instead.
    """
    profile_id = profile.pk
    transaction.on_commit(lambda: current_app.send_task(SYNC_TASK, (profile_id,)), robust=True)


def refresh_dag(profile: AirflowProfile, dag_id: str, *, source: str | None = None) -> Dag:
    """Read one DAG's details (params in their author's order, doc_md) into the catalog.

    On Airflow 2 this costs a second request, for the DAG's source (see ``_param_order``),
    unless the caller read it already (``source``, as a catalog sync does).
    """
    client = client_for(profile)
    details: DagDetails = client.get_dag(dag_id)
    if source is None and _order_needs_source(client, details):
        source = _read_source(client, details)
    now = timezone.now()
    fields = _catalog_fields(details)
    if not details.owners:
        del fields["owners"]  # the details endpoint leaves owners out; keep the list's
    dag, _ = Dag.objects.update_or_create(
        profile=profile,
        dag_id=dag_id,
        defaults={
            **fields,
            "params": {
                name: {"default": p.default, "description": p.description, "schema": p.schema}
                for name, p in details.params.items()
            },
            "param_order": _param_order(client, details, source),
            "doc_md": details.doc_md or "",
            "synced_at": now,
            "params_synced_at": now,
            "last_parsed_at": details.last_parsed_time,
            "source_digest": source_digest(source) if source is not None else "",
        },
    )
    return dag


def _order_needs_source(client: AirflowClient, details: DagDetails) -> bool:
    """Airflow 2 sorts params by name: their order is read from the DAG's file."""
    # Without the token Airflow 2 would need a second details request.
    return not client.api.keeps_param_order and bool(details.params) and bool(details.file_token)


def _read_source(client: AirflowClient, details: DagDetails) -> str | None:
    """The DAG file's text, or None (logged) when Airflow cannot send it."""
    try:
        return client.get_dag_source(details.dag_id, file_token=details.file_token)
    except AirflowError as exc:
        log.info("Kept Airflow's param order of DAG %s: %s", details.dag_id, exc)
        return None


def _param_order(client: AirflowClient, details: DagDetails, source: str | None) -> list[str]:
    """The names of the DAG's params in the order its author wrote them.

    Airflow 3 sends them in that order. Airflow 2 sorts them, so its order is read from the
    DAG's source file (parsed, never run); when that cannot be read or understood, Airflow's
    order is kept: a wrong order is better than a catalog that stops refreshing.
    """
    sent = list(details.params)
    if client.api.keeps_param_order or not sent or source is None:
        return sent
    written = param_order_from_source(source, details.dag_id, filename=details.fileloc)
    if written is None:
        log.info("Kept Airflow's param order of DAG %s: its source did not tell", details.dag_id)
        return sent
    # Params the file does not list (added elsewhere) follow in Airflow's order.
    return [name for name in written if name in details.params] + [
        name for name in sent if name not in written
    ]
