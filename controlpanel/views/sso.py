"""Single sign-on through OpenID Connect: the start (to the provider) and the callback.

Thin: ``controlpanel.oidc`` speaks the protocol, ``services.directory`` makes the account
and syncs its teams and roles, ``django.contrib.auth.login`` opens the session (its signal
records ``auth.login``). A sign-in that fails is refused with a sentence on the login page
and recorded as a failed or denied ``auth.login``.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import login
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_safe

from controlpanel import oidc
from controlpanel.audit import client_ip
from controlpanel.permissions import ActionDenied
from controlpanel.services.directory import record_sign_in_failure, sign_in_from_directory
from controlpanel.signals import DIRECTORY_PROVIDER_ATTRIBUTE
from controlpanel.views.auth import LoginView

NEXT_KEY = "oidc_next"


def _safe_next(request: HttpRequest, target: str) -> str:
    """``target`` when it stays on this site, else the default page after login."""
    allowed = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if target and allowed else settings.LOGIN_REDIRECT_URL


def _refused(request: HttpRequest, message: str, status: int = 400) -> HttpResponseBase:
    """The login page, with its ways to sign in, and the reason the sign-in was refused."""
    response = LoginView.as_view(extra_context={"sso_error": message})(request)
    response.status_code = status
    return response


@require_safe
def oidc_login(request: HttpRequest) -> HttpResponseBase:
    """Send the browser to the provider's login page."""
    if not oidc.is_enabled():
        raise Http404("Single sign-on is not configured.")
    request.session[NEXT_KEY] = _safe_next(request, request.GET.get("next", ""))
    callback = request.build_absolute_uri(reverse("oidc_callback"))
    try:
        return oidc.start_sign_in(request, callback)
    except oidc.SignInFailed as failure:
        _record_failure(request, failure)
        return _refused(request, failure.message, status=502)


@require_safe
def oidc_callback(request: HttpRequest) -> HttpResponseBase:
    """Where the provider sends the browser back: check its answer, sign the user in."""
    if not oidc.is_enabled():
        raise Http404("Single sign-on is not configured.")
    try:
        identity = oidc.finish_sign_in(request)
    except oidc.SignInFailed as failure:
        _record_failure(request, failure)
        return _refused(request, failure.message)
    try:  # refusals are recorded by the service
        user, _changes = sign_in_from_directory(identity, ip_address=client_ip(request))
    except ActionDenied as exc:
        return _refused(request, exc.message, status=403)
    except ValidationError as exc:
        return _refused(request, " ".join(exc.messages), status=403)
    target = request.session.pop(NEXT_KEY, settings.LOGIN_REDIRECT_URL)
    setattr(request, DIRECTORY_PROVIDER_ATTRIBUTE, identity.provider)  # for auth.login's record
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return HttpResponseRedirect(target)


def _record_failure(request: HttpRequest, failure: oidc.SignInFailed) -> None:
    record_sign_in_failure(
        oidc.PROVIDER,
        message=failure.message,
        reason=failure.reason,
        ip_address=client_ip(request),
    )
