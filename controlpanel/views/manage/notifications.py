"""A team's run notifications: subscribing, changing, stopping and testing them."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from controlpanel.audit import Actor
from controlpanel.forms import SubscriptionForm, add_service_errors
from controlpanel.selectors.teams import team_subscription
from controlpanel.services import notifications as notification_services
from controlpanel.views.manage.common import managed_team, require_form_methods


@login_required
@require_form_methods
def subscription_create(request: HttpRequest, slug: str) -> HttpResponse:
    """Subscribe the team to run notifications (panel admins and its team admins)."""
    team = managed_team(request, slug)
    if request.method != "POST":
        form = SubscriptionForm(team=team)
    else:
        form = SubscriptionForm(request.POST, team=team)
        if form.is_valid():
            try:
                notification_services.subscribe(
                    Actor.from_request(request),
                    team,
                    secret=form.cleaned_data["secret"],
                    **form.subscription_fields(),
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, "Notification added.")
                return redirect("manage:team", slug=team.slug)
    context = {"form": form, "team": team, "subscription": None}
    return render(request, "manage/subscription_form.html", context)


@login_required
@require_form_methods
def subscription_edit(request: HttpRequest, slug: str, subscription_id: int) -> HttpResponse:
    """Change a subscription; an empty secret field keeps the stored signing secret."""
    team = managed_team(request, slug)
    subscription = team_subscription(team, subscription_id)
    if request.method != "POST":
        initial = SubscriptionForm.initial_for(subscription)
        form = SubscriptionForm(initial=initial, team=team, editing=True)
    else:
        form = SubscriptionForm(request.POST, team=team, editing=True)
        if form.is_valid():
            try:
                notification_services.update_subscription(
                    Actor.from_request(request),
                    subscription,
                    new_secret=form.new_secret(),
                    **form.subscription_fields(),
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, "Notification saved.")
                return redirect("manage:team", slug=team.slug)
    context = {"form": form, "team": team, "subscription": subscription}
    return render(request, "manage/subscription_form.html", context)


@login_required
@require_POST
def subscription_delete(request: HttpRequest, slug: str, subscription_id: int) -> HttpResponse:
    """Stop a notification."""
    team = managed_team(request, slug)
    subscription = team_subscription(team, subscription_id)
    notification_services.unsubscribe(Actor.from_request(request), subscription)
    messages.success(request, f"Notification to {subscription.target_text} removed.")
    return redirect("manage:team", slug=team.slug)


@login_required
@require_POST
def subscription_test(request: HttpRequest, slug: str, subscription_id: int) -> HttpResponse:
    """Send a sample notification now and say how it went."""
    team = managed_team(request, slug)
    subscription = team_subscription(team, subscription_id)
    result = notification_services.send_test(Actor.from_request(request), subscription)
    if result.ok:
        messages.success(request, f"Test notification sent to {subscription.target_text}.")
    else:
        messages.error(request, f"Test notification failed: {result.error}")
    return redirect("manage:team", slug=team.slug)
