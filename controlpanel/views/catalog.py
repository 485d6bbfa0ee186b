"""The catalog: the DAGs the user may see across profiles, and pausing or unpausing one."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_safe

from controlpanel.audit import Actor
from controlpanel.models import Dag, Run
from controlpanel.permissions import Access, DagAction, access_for
from controlpanel.services import dags as dag_services
from controlpanel.views.listing import PAGE_SIZE, Badge, badge
from dags_api import AirflowError


@dataclass
class CatalogRow:
    """One DAG as the catalog shows it."""

    dag: Dag
    last_run: Badge | None
    last_run_at: Any
    last_run_pk: int | None
    permissions: list[str]

    @property
    def can_operate(self) -> bool:
        """May pause and unpause."""
        return "operate" in self.permissions

    @property
    def can_trigger(self) -> bool:
        """May start runs."""
        return "trigger" in self.permissions


def _with_last_run(dags: QuerySet[Dag]) -> QuerySet[Dag]:
    """Each DAG with its newest run's state, time and id, in the same query."""
    last = Run.objects.filter(profile_id=OuterRef("profile_id"), dag_id=OuterRef("dag_id"))
    last = last.order_by("-created_at", "-id")
    return dags.annotate(
        last_run_state=Subquery(last.values("state")[:1]),
        last_run_at=Subquery(last.values("created_at")[:1]),
        last_run_pk=Subquery(last.values("pk")[:1]),
    )


def _filtered(dags: QuerySet[Dag], params: dict[str, str]) -> QuerySet[Dag]:
    if params["q"]:
        words = params["q"]
        dags = dags.filter(
            Q(dag_id__icontains=words)
            | Q(display_name__icontains=words)
            | Q(description__icontains=words)
        )
    if params["tag"]:
        dags = dags.filter(tag_index__regex=re.escape(f"|{params['tag']}|"))
    if params["profile"]:
        dags = dags.filter(profile__slug=params["profile"])
    if params["paused"] in ("yes", "no"):
        dags = dags.filter(is_paused=params["paused"] == "yes")
    return dags


def _rows(access: Access, dags: list[Dag]) -> list[CatalogRow]:
    rows = []
    for dag in dags:
        state = getattr(dag, "last_run_state", None)
        rows.append(
            CatalogRow(
                dag=dag,
                last_run=badge(state) if state is not None else None,
                last_run_at=getattr(dag, "last_run_at", None),
                last_run_pk=getattr(dag, "last_run_pk", None),
                permissions=access.dag_permissions(dag),
            )
        )
    return rows


@login_required
@require_safe
def catalog(request: HttpRequest) -> HttpResponse:
    """Every DAG the user may see, with its last run and what the user may do there."""
    access = access_for(request.user)
    params = {key: request.GET.get(key, "").strip() for key in ("q", "tag", "profile", "paused")}
    visible = access.visible_dags().filter(is_active=True)
    dags = _filtered(_with_last_run(visible), params)
    page = Paginator(dags, PAGE_SIZE).get_page(request.GET.get("page"))
    tags = sorted({tag for tag_list in visible.values_list("tags", flat=True) for tag in tag_list})
    context = {
        "rows": _rows(access, list(page.object_list)),
        "page": page,
        "params": params,
        "tags": tags,
        "profiles": access.visible_profiles().filter(is_active=True),
        "filtered": any(params.values()),
    }
    return render(request, "catalog/catalog.html", context)


def _back(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    allowed = url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure())
    return target if target and allowed else default


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def dag_pause(request: HttpRequest, profile: str, dag_id: str) -> HttpResponse:
    """Confirm, then pause or unpause a DAG (operate level; the service audits it)."""
    if request.method != "POST":
        dag = access_for(request.user).get_dag(profile, dag_id, DagAction.PAUSE)
        context = {"dag": dag, "next": _back(request, reverse("home"))}
        return render(request, "catalog/pause_confirm.html", context)
    paused = request.POST.get("paused") == "1"
    actor = Actor.from_request(request)
    action = "dag.pause" if paused else "dag.unpause"
    try:
        dag = dag_services.find_dag(actor, profile, dag_id, DagAction.PAUSE, action)
        dag_services.set_paused(actor, dag, paused)
    except AirflowError as exc:
        messages.error(request, exc.user_message)
    else:
        word = "paused: no new runs start until it is unpaused" if paused else "unpaused"
        messages.success(request, f"{dag.label} is {word}.")
    return redirect(_back(request, reverse("home")))
