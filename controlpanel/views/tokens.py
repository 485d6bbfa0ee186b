"""The signed-in user's API tokens: list, create (shown once) and revoke.

Panel admins also revoke anyone's from the user's page. ``services.tokens`` checks who may
and writes the audit events, as it does for the API and ``manage.py``.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from controlpanel.account_forms import TokenCreateForm
from controlpanel.audit import Actor
from controlpanel.permissions import access_for
from controlpanel.selectors.users import manageable_token, tokens_of
from controlpanel.services import tokens as token_services

require_form_methods = require_http_methods(["GET", "HEAD", "POST"])


@never_cache
@login_required
@require_form_methods
def token_list(request: HttpRequest) -> HttpResponse:
    """Your tokens, and a form for a new one; a new token is shown on this answer only."""
    form = TokenCreateForm(request.POST if request.method == "POST" else None)
    new_token = plaintext = None
    if form.is_valid():
        data = form.cleaned_data
        try:
            new_token, plaintext = token_services.create_token(
                Actor.from_request(request),
                request.user,
                data["name"],
                expires_days=data["expires_days"],
                read_only=data["read_only"],
            )
        except ValueError as exc:
            form.add_error("expires_days", str(exc))
        else:
            form = TokenCreateForm()
    context = {
        "form": form,
        "tokens": tokens_of(request.user),
        "new_token": new_token,
        "plaintext": plaintext,
    }
    return render(request, "account/tokens.html", context)


@login_required
@require_form_methods
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    """Ask (GET), then revoke (POST); someone else's token does not exist for you (404)."""
    token = manageable_token(access_for(request.user), token_id)
    own = token.user_id == request.user.pk
    if request.method == "POST":
        token_services.revoke_token(Actor.from_request(request), token)
        messages.success(request, f"The token {token.name} ({token.prefix}…) was revoked.")
        return redirect("tokens") if own else redirect("manage:user", token.user_id)
    return render(request, "account/token_revoke.html", {"token": token, "own": own})
