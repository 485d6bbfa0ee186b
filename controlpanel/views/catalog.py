"""The catalog: the DAGs the user may see across profiles, and pausing or unpausing one."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_safe

from controlpanel import selectors
from controlpanel.audit import Actor
from controlpanel.models import Dag
from controlpanel.permissions import Access, DagAction, access_for
from controlpanel.selectors.history import RunHistory, RunPoint, recent_runs
from controlpanel.selectors.profiles import active_visible_profiles
from controlpanel.services import actions
from controlpanel.services import dags as dag_services
from controlpanel.views.approvals import approval_requested
from controlpanel.views.listing import PAGE_SIZE, Badge, badge
from dags_api import AirflowError


@dataclass
class CatalogRow:
    """One DAG as the catalog shows it: its last runs (oldest first) and the user's rights."""

    dag: Dag
    history: RunHistory
    permissions: list[str]

    @property
    def last_point(self) -> RunPoint | None:
        """The newest run, or None when the DAG has none yet."""
        return self.history.points[-1] if self.history.points else None

    @property
    def last_run(self) -> Badge | None:
        """The newest run's state badge."""
        point = self.last_point
        return badge(point.state) if point is not None else None

    @property
    def can_operate(self) -> bool:
        """May pause and unpause."""
        return "operate" in self.permissions

    @property
    def can_trigger(self) -> bool:
        """May start runs."""
        return "trigger" in self.permissions


def _rows(access: Access, dags: list[Dag]) -> list[CatalogRow]:
    histories = recent_runs(dags)
    return [
        CatalogRow(dag=dag, history=histories[dag.pk], permissions=access.dag_permissions(dag))
        for dag in dags
    ]


@login_required
@require_safe
def catalog(request: HttpRequest) -> HttpResponse:
    """Every DAG the user may see, with its last runs and what the user may do there."""
    access = access_for(request.user)
    if access.lands_on_overview and not request.GET:
        return redirect("overview")  # an audit reviewer in no team has no DAG to list
    params = {key: request.GET.get(key, "").strip() for key in ("q", "tag", "profile", "paused")}
    filters = selectors.DagFilters(
        search=params["q"],
        tag=params["tag"],
        profile=params["profile"],
        paused={"yes": True, "no": False}.get(params["paused"]),
    )
    dags = selectors.catalog_dags(access, filters)
    page = Paginator(dags, PAGE_SIZE).get_page(request.GET.get("page"))
    profiles = active_visible_profiles(access)
    context = {
        "rows": _rows(access, list(page.object_list)),
        "page": page,
        "params": params,
        "tags": selectors.catalog_tags(access),
        "profiles": profiles,
        # Just created: a worker is reading their DAG list (an empty list would mislead).
        "profiles_being_read": [p for p in profiles if p.catalog_synced_at is None],
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
        access = access_for(request.user)
        dag = access.get_dag(profile, dag_id, DagAction.PAUSE)
        context = {
            "dag": dag,
            "next": _back(request, reverse("home")),
            "needs_approval": access.needs_approval(dag, DagAction.PAUSE),
        }
        return render(request, "catalog/pause_confirm.html", context)
    paused = request.POST.get("paused") == "1"
    actor = Actor.from_request(request)
    action = "dag.pause" if paused else "dag.unpause"
    dag = dag_services.find_dag(actor, profile, dag_id, action)
    reason = request.POST.get("reason", "")
    try:
        result = actions.set_paused(actor, dag, paused, reason=reason)
    except ValidationError as exc:  # approval needed, and no reason given
        messages.error(request, " ".join(exc.messages))
        return redirect(reverse("dag_pause", args=[profile, dag_id]))
    except AirflowError as exc:
        messages.error(request, exc.user_message)
        return redirect(_back(request, reverse("home")))
    if isinstance(result, actions.ApprovalRequested):
        return approval_requested(request, result)
    word = "paused: no new runs start until it is unpaused" if paused else "unpaused"
    messages.success(request, f"{dag.label} is {word}.")
    return redirect(_back(request, reverse("home")))
