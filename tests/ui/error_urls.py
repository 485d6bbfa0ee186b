"""The panel's URLs plus pages that crash, for the 500 tests (handlers as in production)."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from controlpanel import urls


def crash(request: HttpRequest) -> HttpResponse:
    """A page whose code fails."""
    raise RuntimeError("boom")


urlpatterns = [
    path("crash/", crash),
    path("api/crash/", crash),
    *urls.urlpatterns,
]
handler403 = urls.handler403
handler404 = urls.handler404
handler500 = urls.handler500
