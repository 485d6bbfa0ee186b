"""The panel's models, one module per area."""

from .approvals import ApprovalRequest
from .audit import AUDIT_ACTIONS, AUDITORS_GROUP, AuditChainHead, AuditEvent, action_label
from .catalog import Dag, Run, tag_index_for
from .directory import DirectoryAccount
from .notifications import Delivery, Subscription
from .profiles import PLAIN_HTTP_WARNING, AirflowProfile
from .teams import LEVEL_RANK, DagGrant, Level, Team, TeamMembership
from .tokens import ApiToken, IdempotentRequest, hash_token
from .tracking import PollStatus, StateChange, TaskInstance

__all__ = [
    "AUDITORS_GROUP",
    "AUDIT_ACTIONS",
    "LEVEL_RANK",
    "PLAIN_HTTP_WARNING",
    "AirflowProfile",
    "ApiToken",
    "ApprovalRequest",
    "AuditChainHead",
    "AuditEvent",
    "Dag",
    "DagGrant",
    "Delivery",
    "DirectoryAccount",
    "IdempotentRequest",
    "Level",
    "PollStatus",
    "Run",
    "StateChange",
    "Subscription",
    "TaskInstance",
    "Team",
    "TeamMembership",
    "action_label",
    "hash_token",
    "tag_index_for",
]
