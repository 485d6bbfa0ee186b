"""URL routes of the control panel."""

from django.contrib import admin
from django.urls import path

from controlpanel.views import core

urlpatterns = [
    path("", core.home, name="home"),
    path("healthz", core.healthz, name="healthz"),
    path("admin/", admin.site.urls),
]
