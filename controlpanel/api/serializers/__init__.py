"""What the API reads and writes: request bodies in, the contract's field names out.

One module per resource; every serializer is named here too, so the API views read them
as ``from controlpanel.api import serializers as s`` and ``s.RunSerializer``.
"""

from controlpanel.api.serializers.accounts import (
    MeSerializer,
    TeamRoleSerializer,
    UserSerializer,
    UserUpdateSerializer,
)
from controlpanel.api.serializers.approvals import (
    ApprovalCreatedSerializer,
    ApprovalRequestSerializer,
    DecisionSerializer,
)
from controlpanel.api.serializers.audit import AUDIT_FIELDS, AuditEventSerializer
from controlpanel.api.serializers.dags import (
    DagDetailSerializer,
    DagPatchSerializer,
    DagSerializer,
    ParamSerializer,
    TriggerSerializer,
)
from controlpanel.api.serializers.notifications import (
    NotificationTestSerializer,
    SubscriptionSerializer,
)
from controlpanel.api.serializers.profiles import ProfileSerializer, ProfileWriteSerializer
from controlpanel.api.serializers.runs import (
    RetryRequestSerializer,
    RetryResultSerializer,
    RunBriefSerializer,
    RunSerializer,
    RunSummarySerializer,
    StateChangeSerializer,
    TaskInstanceSerializer,
)
from controlpanel.api.serializers.teams import (
    GrantSerializer,
    MemberAddSerializer,
    MemberRoleSerializer,
    MemberSerializer,
    TeamSerializer,
)
from controlpanel.api.serializers.tokens import (
    NewTokenSerializer,
    TokenCreateSerializer,
    TokenSerializer,
)

__all__ = [
    "AUDIT_FIELDS",
    "ApprovalCreatedSerializer",
    "ApprovalRequestSerializer",
    "AuditEventSerializer",
    "DagDetailSerializer",
    "DagPatchSerializer",
    "DagSerializer",
    "DecisionSerializer",
    "GrantSerializer",
    "MeSerializer",
    "MemberAddSerializer",
    "MemberRoleSerializer",
    "MemberSerializer",
    "NewTokenSerializer",
    "NotificationTestSerializer",
    "ParamSerializer",
    "ProfileSerializer",
    "ProfileWriteSerializer",
    "RetryRequestSerializer",
    "RetryResultSerializer",
    "RunBriefSerializer",
    "RunSerializer",
    "RunSummarySerializer",
    "StateChangeSerializer",
    "SubscriptionSerializer",
    "TaskInstanceSerializer",
    "TeamRoleSerializer",
    "TeamSerializer",
    "TokenCreateSerializer",
    "TokenSerializer",
    "TriggerSerializer",
    "UserSerializer",
    "UserUpdateSerializer",
]
