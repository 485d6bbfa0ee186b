"""Routes of the Airflow-compatible API: ``/airflow/{profile}/api/v1/`` and ``/api/v2/``."""

from django.urls import path, re_path

from controlpanel.airflow_compat import views as v

RUN = "dags/<str:dag_id>/dagRuns/<str:run_id>/"

urlpatterns = [
    path("health", v.HealthView.as_view()),
    path("monitor/health", v.HealthView.as_view()),
    path("version", v.VersionView.as_view()),
    path("dags", v.DagsView.as_view()),
    path("dags/~/dagRuns/list", v.RunsBatchView.as_view()),
    path("dags/~/dagRuns/~/taskInstances/list", v.TaskInstancesBatchView.as_view()),
    path("dags/<str:dag_id>", v.DagView.as_view()),
    path("dags/<str:dag_id>/details", v.DagDetailsView.as_view()),
    path("dags/<str:dag_id>/dagRuns", v.RunsView.as_view()),
    path(RUN.rstrip("/"), v.RunView.as_view()),
    path(RUN + "clear", v.RunClearView.as_view()),
    path(RUN + "taskInstances", v.TaskInstancesView.as_view()),
    path(RUN + "taskInstances/<str:task_id>", v.TaskInstanceView.as_view()),
    path(RUN + "taskInstances/<str:task_id>/logs/<str:try_number>", v.TaskLogView.as_view()),
    re_path(r"^.*$", v.not_found),
]
