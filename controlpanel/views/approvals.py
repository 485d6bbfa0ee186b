"""The Approvals pages: requests to run DAGs that need a second person's approval."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from controlpanel.audit import Actor
from controlpanel.models import ApprovalRequest
from controlpanel.permissions import access_for
from controlpanel.selectors.approvals import STATES, approval_list, conf_rows, dag_of_request
from controlpanel.services import actions, approvals

LIST_LIMIT = 200
DECISIONS = {"approve": actions.approve, "reject": approvals.reject}


def approvals_badge(request: HttpRequest) -> dict[str, Any]:
    """Template context: how many pending requests the user may decide (the nav badge)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"approvals_to_decide": access_for(user).approvals_to_decide().count()}


def approval_requested(request: HttpRequest, result: actions.ApprovalRequested) -> HttpResponse:
    """To the request's page, saying that the action waits for an approver."""
    messages.success(request, "Approval requested: it happens once an approver agrees.")
    return redirect("approval", pk=result.approval.pk)


@login_required
def approval_list_page(request: HttpRequest) -> HttpResponse:
    """Every request the user may see, pending first; ``?state=`` narrows it."""
    state = request.GET.get("state", "")
    state = state if state in STATES else ""
    requests = list(approval_list(access_for(request.user), state)[:LIST_LIMIT])
    context = {"requests": requests, "state": state, "states": STATES}
    return render(request, "approvals/list.html", context)


@login_required
def approval_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One request: who asked, why, the conf as the form labels it, and the decision."""
    access = access_for(request.user)
    approval = access.get_approval(pk)
    dag = dag_of_request(approval)
    context = {
        "approval": approval,
        "dag": dag,
        "rows": conf_rows(approval, dag),
        "may_decide": approval.state == ApprovalRequest.State.PENDING
        and access.may_decide_approval(approval),
        "may_cancel": approval.state == ApprovalRequest.State.PENDING
        and approval.requested_by_id == request.user.pk,
        "run": getattr(approval, "run", None),
    }
    return render(request, "approvals/detail.html", context)


@login_required
@require_POST
def approval_decide(request: HttpRequest, pk: int) -> HttpResponse:
    """Approve, reject or (the requester) cancel; a request already decided says so."""
    approval = access_for(request.user).get_approval(pk)
    actor = Actor.from_request(request)
    decision = request.POST.get("decision", "")
    comment = request.POST.get("comment", "").strip()[: approvals.REASON_MAX_CHARS]
    try:
        if decision == "cancel":
            approvals.cancel(actor, approval)
        elif decision in DECISIONS:
            DECISIONS[decision](actor, approval, comment)
        else:
            messages.error(request, "Choose approve, reject or cancel.")
    except approvals.ApprovalConflict as exc:
        messages.error(request, str(exc))
        return redirect("approval", pk=pk)
    approval.refresh_from_db()
    run = getattr(approval, "run", None)
    if approval.trigger_error:
        messages.error(request, f"Approved, but the run did not start: {approval.trigger_error}")
    elif run is not None:
        messages.success(request, f"Approved: run {run.dag_run_id} started.")
        if access_for(request.user).may_see_run(run):
            return redirect("run", pk=run.pk)
    else:
        messages.success(request, f"Request {approval.get_state_display().lower()}.")
    return redirect("approval", pk=pk)
