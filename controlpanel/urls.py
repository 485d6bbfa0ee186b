"""URL routes of the control panel."""

from django.contrib import admin
from django.urls import include, path

from controlpanel.views import core, health

urlpatterns = [
    path("", core.home, name="home"),
    path("healthz", core.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("controlpanel.views.auth")),
    path("manage/", include("controlpanel.urls_manage")),
]
