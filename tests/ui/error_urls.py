"""The panel's URLs plus test pages (a crash, a plain form under /api/), same handlers."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from controlpanel import urls


def crash(request: HttpRequest) -> HttpResponse:
    """A page whose code fails."""
    raise RuntimeError("boom")


def accept(request: HttpRequest) -> HttpResponse:
    """A plain Django view taking a POST (CSRF-protected) under /api/."""
    return HttpResponse("accepted")


urlpatterns = [
    path("crash/", crash),
    path("api/plain-form/", accept),
    path("api/crash/", crash),
    *urls.urlpatterns,
]
handler403 = urls.handler403
handler404 = urls.handler404
handler500 = urls.handler500
