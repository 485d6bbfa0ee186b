"""The DAG page: what the DAG is, and a trigger form generated from its params."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from controlpanel import limits, paramforms
from controlpanel.audit import Actor
from controlpanel.markdown import render_markdown
from controlpanel.models import Dag
from controlpanel.permissions import Access, DagAction, access_for, require
from controlpanel.selectors import trigger_form
from controlpanel.selectors.approvals import pending_requests_of
from controlpanel.selectors.history import dag_history
from controlpanel.services import actions, triggers
from controlpanel.services import catalog as catalog_services
from controlpanel.services import dags as dag_services
from controlpanel.views.listing import badge
from dags_api import AirflowConflict, AirflowError, AirflowValidationError, new_dag_run_id
from dags_api.client import DAG_RUN_ID_PATTERN


@dataclass
class TriggerForm:
    """Everything the trigger form shows besides the param fields."""

    fields: list[paramforms.ParamField]
    dag_run_id: str
    logical_date: str = ""
    note: str = ""
    use_json: bool = False
    conf_json: str = ""
    unpause: bool = False
    reason: str = ""
    errors: list[str] = field(default_factory=list)
    field_errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def sections(self) -> list[tuple[str, list[paramforms.ParamField]]]:
        """Visible fields grouped into fieldsets."""
        return paramforms.sections(self.fields)

    @property
    def hidden(self) -> list[paramforms.ParamField]:
        """Fields with a constant value."""
        return [f for f in self.fields if f.widget == "hidden"]

    @property
    def summary(self) -> list[tuple[str, str, str]]:
        """(input id, label, message) of every field error, in the form's order."""
        found = [
            (f.input_name, f.label, message)
            for _section, fields in self.sections
            for f in fields
            for message in f.errors
        ]
        found += [
            ("logical_date", "Logical date", message)
            for message in self.field_errors.get("logical_date", [])
        ]
        return found


def _maybe_refresh(dag: Dag) -> tuple[Dag, str]:
    """Read params from Airflow when the catalog never did; a failure is said in words."""
    if dag.params or dag.params_synced_at is not None:
        return dag, ""
    try:
        fresh = catalog_services.refresh_dag(dag.profile, dag.dag_id)
    except AirflowError as exc:
        return dag, f"Could not read this DAG's params from Airflow: {exc.user_message}"
    fresh.profile = dag.profile
    return fresh, ""


def _initial_form(request: HttpRequest, access: Access, dag: Dag) -> TriggerForm:
    source = request.GET.get("from_run", "")
    values = trigger_form.conf_of_run(access, dag, int(source)) if source.isdigit() else None
    fields = paramforms.build_fields(dag.ordered_params, values)
    conf = values if values is not None else paramforms.default_conf(fields)
    return TriggerForm(fields, new_dag_run_id(), conf_json=json.dumps(conf, indent=2))


def api_call(request: HttpRequest, dag: Dag, conf: Any, form: TriggerForm) -> str:
    """The same trigger as a curl call to the panel's own API (the token left to fill in)."""
    url = request.build_absolute_uri(reverse("api:dag-runs", args=[dag.profile.slug, dag.dag_id]))
    body: dict[str, Any] = {"conf": conf}
    if form.logical_date:
        body["logical_date"] = form.logical_date
    if form.note:
        body["note"] = form.note
    return (
        f"curl -X POST {shlex.quote(url)} \\\n"
        '  -H "Authorization: Bearer $PANEL_TOKEN" \\\n'
        '  -H "Content-Type: application/json" \\\n'
        f"  -d {shlex.quote(json.dumps(body, indent=2))}"
    )


def _render(
    request: HttpRequest, dag: Dag, form: TriggerForm | None, status: int = 200, **extra: Any
) -> HttpResponse:
    access = access_for(request.user)
    context = {
        "dag": dag,
        "form": form,
        "doc_html": render_markdown(dag.doc_md),
        "api_call": api_call(request, dag, _conf_of(form), form) if form else "",
        "can_trigger": access.can(DagAction.TRIGGER, dag),
        "needs_approval": access.needs_approval(dag, DagAction.TRIGGER),
        "my_pending_approvals": pending_requests_of(access, dag),
        "can_operate": access.can(DagAction.PAUSE, dag),
        "permissions": access.dag_permissions(dag),
        "time_zone": timezone.get_current_timezone_name(),
        "recent_runs": [
            (run, badge(run.state))
            for run in trigger_form.runs_to_copy(access, dag, request.user.pk)
        ],
        "history": dag_history(access, dag),
        **extra,
    }
    return render(request, "dags/dag.html", context, status=status)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def dag_detail(request: HttpRequest, profile: str, dag_id: str) -> HttpResponse:
    """Show the DAG and its trigger form; POST validates and triggers a run."""
    access = access_for(request.user)
    if request.method == "POST":
        return _trigger(request, profile, dag_id)
    dag, refresh_error = _maybe_refresh(access.get_dag(profile, dag_id))
    form = _initial_form(request, access, dag) if access.can(DagAction.TRIGGER, dag) else None
    return _render(request, dag, form, refresh_error=refresh_error)


def refused_trigger_form(
    request: HttpRequest, message: str, profile: str, dag_id: str
) -> HttpResponse | None:
    """The DAG page with its trigger form filled as posted, and nothing triggered.

    For a POST the CSRF check refused (the session changed in another tab): the values
    come back to check and submit again. None when the user may not trigger this DAG.
    """
    access = access_for(request.user)
    try:
        dag = access.get_dag(profile, dag_id, DagAction.TRIGGER)
    except (Http404, PermissionDenied):
        return None
    form, _conf = _read_form(request, dag)
    messages.warning(request, message)
    return _render(request, dag, form, status=403)


def _logical_date(text: str) -> datetime | None:
    """A datetime-local value in the panel's time zone, made aware (raises ValueError)."""
    if not text:
        return None
    parsed = datetime.fromisoformat(text)
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)


def _posted_form(request: HttpRequest, dag: Dag) -> TriggerForm:
    """The trigger form as posted, before its params are read."""
    post = request.POST
    posted_id = post.get("dag_run_id", "")
    return TriggerForm(
        paramforms.build_fields(dag.ordered_params),
        posted_id if _usable_run_id(posted_id) else new_dag_run_id(),
        logical_date=post.get("logical_date", "").strip(),
        note=post.get("note", "").strip(),
        use_json=bool(post.get("use_conf_json")),
        conf_json=post.get("conf_json", ""),
        unpause=bool(post.get("unpause")),
        reason=post.get("reason", "").strip(),
    )


def _usable_run_id(posted_id: str) -> bool:
    """The form's run id (kept across resubmissions) when Airflow would take it."""
    return bool(DAG_RUN_ID_PATTERN.match(posted_id)) and len(posted_id) <= limits.ID_MAX_LENGTH


def _within_limits(submission: paramforms.Submission, note: str) -> paramforms.Submission:
    """The submission with the panel's conf and note limits added to its errors.

    The same limits the trigger action enforces (``triggers.checked_body``), said on the
    form before a conf too big to show is drawn back into it.
    """
    problems = limits.conf_problems(submission.conf) + limits.note_problems(note)
    if not problems:
        return submission
    errors = {**submission.errors, "": [*submission.errors.get("", []), *problems]}
    return paramforms.Submission({}, errors)


def _read_form(request: HttpRequest, dag: Dag) -> tuple[TriggerForm, dict[str, Any]]:
    """The posted form, parsed and validated; the conf to send (when valid).

    The fields are sent unless "send the JSON" is ticked; keys of the JSON box that are
    not params (extra conf the DAG reads itself) go along with the fields.
    """
    form = _posted_form(request, dag)
    if form.use_json:
        submission = _json_submission(form)
    else:
        submission = paramforms.parse_submission(form.fields, dict(request.POST.lists()))
        submission = _with_extra_keys(form, submission)
    submission = _within_limits(submission, form.note)
    form.field_errors = submission.errors
    if "" in submission.errors:
        form.errors.extend(submission.errors[""])
    elif submission.errors:
        form.errors.append("Some values are not valid: see the list below and the fields.")
    if not form.use_json and "" not in submission.errors:
        form.conf_json = json.dumps(submission.conf, indent=2)
    try:
        _logical_date(form.logical_date)
    except ValueError:
        form.field_errors["logical_date"] = ["Enter a date and time, or leave it empty."]
        form.errors.append("The logical date is not a date and time.")
    return form, submission.conf


def _parse_conf_json(text: str) -> tuple[Any, str]:
    """(the JSON box's value, "") or (None, what is wrong with it in words)."""
    try:
        conf = json.loads(text or "{}")
    except json.JSONDecodeError as exc:
        return (
            None,
            f"The conf is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).",
        )
    except RecursionError:
        return None, "The conf is nested too deeply."
    problems = limits.conf_problems(conf)
    return (None, " ".join(problems)) if problems else (conf, "")


def _with_extra_keys(form: TriggerForm, submission: paramforms.Submission) -> paramforms.Submission:
    """The fields' conf plus the JSON box's keys that are not params."""
    conf, problem = _parse_conf_json(form.conf_json)
    if problem:
        message = f"{problem} Fix it, or empty it to send only the fields."
        return paramforms.Submission(submission.conf, {**submission.errors, "": [message]})
    if not isinstance(conf, dict):
        return submission
    names = {f.name for f in form.fields}
    extra = {k: v for k, v in conf.items() if k not in names}
    return paramforms.Submission({**submission.conf, **extra}, submission.errors)


def _json_submission(form: TriggerForm) -> paramforms.Submission:
    conf, problem = _parse_conf_json(form.conf_json)
    if problem:
        return paramforms.Submission({}, {"": [problem]})
    submission = paramforms.validate_conf(form.fields, conf)
    flat = list(submission.errors.get("", []))
    for f in form.fields:
        if f.name in submission.conf and f.widget != "hidden":
            f.value = submission.conf[f.name]
        f.errors = submission.errors.get(f.name, [])
        flat += [f"{f.label}: {message}" for message in f.errors]
    return paramforms.Submission(submission.conf, {"": flat} if flat else {})


def _conf_of(form: TriggerForm | None) -> Any:
    """The conf the form would send now (its JSON box, which follows the fields)."""
    conf, problem = _parse_conf_json(form.conf_json if form else "{}")
    return {} if problem else conf


@login_required
@require_POST
def dag_form_preview(request: HttpRequest, profile: str, dag_id: str) -> JsonResponse:
    """The conf the trigger form would send, for its live preview; changes nothing.

    ``source=fields``: the fields are read (as a trigger would) and the JSON follows them;
    ``source=json``: the JSON box is read and the fields are drawn again from it.
    """
    access = access_for(request.user)
    dag = access.get_dag(profile, dag_id)
    require(access.can(DagAction.TRIGGER, dag), "You may not trigger this DAG.")
    if request.POST.get("source") == "json":
        return JsonResponse(_preview_from_json(request, dag))
    form = _posted_form(request, dag)
    submission = _with_extra_keys(
        form, paramforms.parse_submission(form.fields, dict(request.POST.lists()))
    )
    submission = _within_limits(submission, "")
    return JsonResponse(
        {
            "conf_json": json.dumps(submission.conf, indent=2),
            "api_call": api_call(request, dag, submission.conf, form),
            "errors": _preview_errors(form),
            "json_error": submission.errors.get("", [""])[0],
        }
    )


def _preview_errors(form: TriggerForm) -> list[dict[str, str]]:
    return [{"id": i, "label": label, "message": m} for i, label, m in form.summary]


def _preview_from_json(request: HttpRequest, dag: Dag) -> dict[str, Any]:
    form = _posted_form(request, dag)
    conf, problem = _parse_conf_json(form.conf_json)
    if problem or not isinstance(conf, dict):
        return {"json_error": problem or 'The conf must be a JSON object: {"name": value, ...}.'}
    _json_submission(form)
    fields_html = render_to_string(
        "dags/_param_fields.html", {"form": form, "dag": dag}, request=request
    )
    return {
        "fields_html": fields_html,
        "api_call": api_call(request, dag, conf, form),
        "errors": _preview_errors(form),
        "json_error": "",
    }


def _trigger(request: HttpRequest, profile: str, dag_id: str) -> HttpResponse:
    """Read the posted form and hand it to the trigger action; show what it came to."""
    actor = Actor.from_request(request)
    dag = dag_services.find_dag(actor, profile, dag_id, "dag.trigger")
    form, conf = _read_form(request, dag)
    logical_date = None if "logical_date" in form.field_errors else _logical_date(form.logical_date)
    wish = actions.TriggerInput(
        conf=conf,
        logical_date=logical_date,
        logical_date_text=form.logical_date,
        note=form.note,
        reason=form.reason,
        dag_run_id=form.dag_run_id,
        unpause=form.unpause,
        input_errors=form.field_errors if form.errors else {},
    )
    try:
        result = actions.trigger(actor, dag, wish)
    except triggers.ConfRefused as exc:
        if not form.errors:  # else the form shows its own reading of the same mistakes
            _conf_rejection(form, exc.errors)
        return _render(request, dag, form)
    except (limits.LimitError, ValidationError) as exc:
        errors = exc.errors if isinstance(exc, limits.LimitError) else exc.message_dict
        form.field_errors.update(errors)
        form.errors.extend(m for messages_ in errors.values() for m in messages_)
        return _render(request, dag, form)
    except AirflowError as exc:
        _airflow_rejection(form, exc)
        return _render(request, dag, form)
    if isinstance(result, actions.ApprovalRequested):
        messages.success(request, f"Approval requested: {dag.label} runs once an approver agrees.")
        return redirect("approval", pk=result.approval.pk)
    run = actions.started_run(result)
    messages.success(request, f"Run {run.dag_run_id} of {dag.label} started.")
    return redirect("run", pk=run.pk)


def _conf_rejection(form: TriggerForm, errors: dict[str, list[str]]) -> None:
    """The conf check's refusal on the form (keys the fields do not show: in the summary)."""
    for f in form.fields:
        f.errors = errors.get(f.name, f.errors)
    form.errors.append("Some values are not valid: see the list below and the fields.")


def _airflow_rejection(form: TriggerForm, exc: AirflowError) -> None:
    """Airflow's refusal on the form, next to the param it names when it names one."""
    if isinstance(exc, AirflowValidationError) and exc.param:
        for f in form.fields:
            if f.name == exc.param:
                f.errors = [exc.user_message]
    if isinstance(exc, AirflowConflict) and form.logical_date:
        form.field_errors["logical_date"] = [
            "Another run of this DAG already has this logical date: choose another one."
        ]
    form.errors.append(f"Airflow did not start the run. {exc.user_message}")


@login_required
@require_POST
def dag_refresh(request: HttpRequest, profile: str, dag_id: str) -> HttpResponse:
    """Read the DAG's details and params from Airflow again."""
    dag = access_for(request.user).get_dag(profile, dag_id)
    try:
        catalog_services.refresh_dag(dag.profile, dag.dag_id)
    except AirflowError as exc:
        messages.error(request, f"Could not refresh from Airflow: {exc.user_message}")
    else:
        messages.success(request, "Refreshed from Airflow.")
    return redirect("dag", profile=dag.profile.slug, dag_id=dag.dag_id)
