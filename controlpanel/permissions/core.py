"""What every part of the permissions shares: the DAG actions and the level each needs,
the refusal that carries a sentence (``ActionDenied``), and ``require``."""

from __future__ import annotations

from enum import StrEnum

from django.core.exceptions import PermissionDenied

from controlpanel.models import LEVEL_RANK, Level


class DagAction(StrEnum):
    """What someone may want to do with a DAG or its runs, and the level it needs."""

    VIEW = "view"  # the DAG, its runs, task states and logs
    TRIGGER = "trigger"
    PAUSE = "pause"  # pause and unpause
    RETRY = "retry"  # clear failed tasks so they run again
    SET_RUN_STATE = "set_run_state"


ACTION_LEVEL: dict[DagAction, Level] = {
    DagAction.VIEW: Level.VIEW,
    DagAction.TRIGGER: Level.TRIGGER,
    DagAction.PAUSE: Level.OPERATE,
    DagAction.RETRY: Level.OPERATE,
    DagAction.SET_RUN_STATE: Level.OPERATE,
}
LEVELS_BY_RANK = sorted(LEVEL_RANK, key=LEVEL_RANK.__getitem__)
# What a grant can put behind a second person's approval.
APPROVABLE = (DagAction.TRIGGER, DagAction.PAUSE, DagAction.RETRY)


class ActionDenied(PermissionDenied):
    """The user may see the thing but not do this to it (403, audited as denied).

    A ``PermissionDenied``, so Django's views and the API answer 403 without a translation;
    ``code`` is the API's error code for it.
    """

    def __init__(self, message: str, code: str = "forbidden") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def require(allowed: bool, message: str, code: str = "forbidden") -> None:
    """Raise ActionDenied with ``message`` unless ``allowed``.

    Inside ``controlpanel.audit.audited`` the refusal is recorded as denied.
    """
    if not allowed:
        raise ActionDenied(message, code)
