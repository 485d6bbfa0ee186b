"""Routes of the REST API, under ``/api/``."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.request import Request
from rest_framework.response import Response

from controlpanel.api import views_accounts as accounts
from controlpanel.api import views_admin as admin
from controlpanel.api import views_approvals as approvals
from controlpanel.api import views_audit as audit
from controlpanel.api import views_dags as dags
from controlpanel.api.errors import error_body
from controlpanel.api.views_docs import api_docs

app_name = "api"


@api_view(["GET", "POST", "PUT", "PATCH", "DELETE"])
@authentication_classes([])
@permission_classes([])
def no_such_endpoint(request: Request) -> Response:
    """JSON 404 for any other path under /api/."""
    return Response(error_body("not_found", "There is no such API endpoint."), status=404)


no_such_endpoint.cls.schema = None

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(permission_classes=[]), name="schema"),
    path("docs/", api_docs, name="docs"),
    path("me/", accounts.MeView.as_view(), name="me"),
    path("users/", accounts.UsersView.as_view(), name="users"),
    path("users/<str:username>/", accounts.UserView.as_view(), name="user"),
    path("tokens/", accounts.TokensView.as_view(), name="tokens"),
    path("tokens/<int:token_id>/", accounts.TokenView.as_view(), name="token"),
    path("profiles/", admin.ProfilesView.as_view(), name="profiles"),
    path("profiles/<slug:slug>/", admin.ProfileView.as_view(), name="profile"),
    path("profiles/<slug:slug>/test/", admin.ProfileTestView.as_view(), name="profile-test"),
    path("teams/", admin.TeamsView.as_view(), name="teams"),
    path("teams/<slug:slug>/", admin.TeamView.as_view(), name="team"),
    path("teams/<slug:slug>/members/", admin.MembersView.as_view(), name="members"),
    path("teams/<slug:slug>/members/<str:username>/", admin.MemberView.as_view(), name="member"),
    path("teams/<slug:slug>/grants/", admin.GrantsView.as_view(), name="grants"),
    path("teams/<slug:slug>/grants/<int:grant_id>/", admin.GrantView.as_view(), name="grant"),
    path(
        "teams/<slug:slug>/subscriptions/",
        admin.SubscriptionsView.as_view(),
        name="subscriptions",
    ),
    path(
        "teams/<slug:slug>/subscriptions/<int:subscription_id>/",
        admin.SubscriptionView.as_view(),
        name="subscription",
    ),
    path(
        "teams/<slug:slug>/subscriptions/<int:subscription_id>/test/",
        admin.SubscriptionTestView.as_view(),
        name="subscription-test",
    ),
    path("dags/", dags.DagsView.as_view(), name="dags"),
    path("dags/<slug:profile>/<str:dag_id>/", dags.DagView.as_view(), name="dag"),
    path("dags/<slug:profile>/<str:dag_id>/runs/", dags.DagRunsView.as_view(), name="dag-runs"),
    path("runs/", dags.RunsView.as_view(), name="runs"),
    path("runs/<int:run_id>/", dags.RunView.as_view(), name="run"),
    path("runs/<int:run_id>/history/", dags.RunHistoryView.as_view(), name="run-history"),
    path(
        "runs/<int:run_id>/tasks/<str:task_id>/logs/",
        dags.TaskLogView.as_view(),
        name="task-log",
    ),
    path("runs/<int:run_id>/retry/", dags.RunRetryView.as_view(), name="run-retry"),
    path("approvals/", approvals.ApprovalsView.as_view(), name="approvals"),
    path("approvals/<int:approval_id>/", approvals.ApprovalView.as_view(), name="approval"),
    path(
        "approvals/<int:approval_id>/approve/",
        approvals.ApprovalDecisionView.as_view(decision="approve"),
        name="approval-approve",
    ),
    path(
        "approvals/<int:approval_id>/reject/",
        approvals.ApprovalDecisionView.as_view(decision="reject"),
        name="approval-reject",
    ),
    path(
        "approvals/<int:approval_id>/cancel/",
        approvals.ApprovalCancelView.as_view(),
        name="approval-cancel",
    ),
    path("audit/", audit.AuditView.as_view(), name="audit"),
    re_path(r"^.*$", no_such_endpoint),
]
