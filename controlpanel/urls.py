"""URL routes of the control panel."""

from django.contrib import admin
from django.urls import include, path, re_path

from controlpanel.views import (
    approvals,
    audit_log,
    auth,
    catalog,
    core,
    dag,
    health,
    metrics,
    overview,
    runs,
    sso,
    tokens,
)

urlpatterns = [
    path("", catalog.catalog, name="home"),
    path("healthz", core.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("admin/login/", auth.admin_login),  # before the admin's own: PASSWORD_LOGIN applies
    path("admin/", admin.site.urls),
    path("accounts/tokens/", tokens.token_list, name="tokens"),
    path("accounts/tokens/<int:token_id>/revoke/", tokens.token_revoke, name="token_revoke"),
    path("accounts/", include("controlpanel.views.auth")),
    path("oidc/login/", sso.oidc_login, name="oidc_login"),
    path("oidc/callback/", sso.oidc_callback, name="oidc_callback"),
    path("manage/", include("controlpanel.urls_manage")),
    path("api/", include("controlpanel.api.urls")),
    re_path(
        r"^airflow/(?P<profile>[-a-zA-Z0-9_]+)/api/(?P<api>v[12])/",
        include("controlpanel.airflow_compat.urls"),
    ),
    path("dags/<slug:profile>/<str:dag_id>/", dag.dag_detail, name="dag"),
    path("dags/<slug:profile>/<str:dag_id>/refresh/", dag.dag_refresh, name="dag_refresh"),
    path("dags/<slug:profile>/<str:dag_id>/preview/", dag.dag_form_preview, name="dag_preview"),
    path("dags/<slug:profile>/<str:dag_id>/pause/", catalog.dag_pause, name="dag_pause"),
    path("overview/", overview.overview, name="overview"),
    path("runs/", runs.run_list, name="runs"),
    path("runs/<int:pk>/", runs.run_detail, name="run"),
    path("runs/<int:pk>/live/", runs.run_live, name="run_live"),
    path("runs/<int:pk>/log/", runs.run_log, name="run_log"),
    path("runs/<int:pk>/retry/", runs.run_retry, name="run_retry"),
    path("approvals/", approvals.approval_list_page, name="approvals"),
    path("approvals/<int:pk>/", approvals.approval_detail, name="approval"),
    path("approvals/<int:pk>/decide/", approvals.approval_decide, name="approval_decide"),
    path("audit/", audit_log.audit_list, name="audit"),
    path("audit/export.csv", audit_log.audit_export, name="audit_export"),
    path("audit/<int:pk>/", audit_log.audit_detail, name="audit_event"),
]

# Styled dead ends with the navigation (JSON for API paths): controlpanel/views/errors.py.
handler403 = "controlpanel.views.errors.permission_denied"
handler404 = "controlpanel.views.errors.page_not_found"
handler500 = "controlpanel.views.errors.server_error"
