"""The one place that decides who may do what. Views, API, templates and tasks ask here.

Rights come from team grants (team x profile x DAG selector x level); a user's rights are
the union of their teams' grants. Superusers may do everything; audit reviewers may read
all run history and the audit trail and nothing else. Someone who may not see a DAG or a
run gets the same answer as for one that does not exist (404). Pages whose existence is
no secret (the history, the management pages) answer a signed-in user without the right
with 403 and a sentence saying what is missing (the ``*_ONLY`` messages in ``roles``).

By area: ``core`` (actions, levels, ``require``), ``roles`` (panel roles, teams),
``matching`` (which DAGs a grant selects, in SQL and in Python), ``grants`` (DAG rights),
``runs``, ``approvals`` (the two-person rule), ``querysets`` (rules for many users or teams
in one query), and ``access`` (``Access`` assembled from those parts, ``access_for``).
"""

from controlpanel.permissions.access import Access, access_for
from controlpanel.permissions.core import (
    ACTION_LEVEL,
    APPROVABLE,
    LEVELS_BY_RANK,
    ActionDenied,
    DagAction,
    require,
)
from controlpanel.permissions.matching import (
    carries_tag,
    dag_matches,
    dags_granted_by,
    dags_matching,
    glob_to_regex,
    grant_matches,
)
from controlpanel.permissions.querysets import is_auditor_expression, teams_seeing_dags
from controlpanel.permissions.roles import (
    AUDIT_REVIEWERS_ONLY,
    PROFILE_MANAGERS_ONLY,
    TEAM_ADMINS_ONLY,
    TEAM_MANAGERS_ONLY,
    USER_MANAGERS_ONLY,
)

__all__ = [
    "ACTION_LEVEL",
    "APPROVABLE",
    "AUDIT_REVIEWERS_ONLY",
    "LEVELS_BY_RANK",
    "PROFILE_MANAGERS_ONLY",
    "TEAM_ADMINS_ONLY",
    "TEAM_MANAGERS_ONLY",
    "USER_MANAGERS_ONLY",
    "Access",
    "ActionDenied",
    "DagAction",
    "access_for",
    "carries_tag",
    "dag_matches",
    "dags_granted_by",
    "dags_matching",
    "glob_to_regex",
    "grant_matches",
    "is_auditor_expression",
    "require",
    "teams_seeing_dags",
]
