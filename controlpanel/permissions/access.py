"""``Access``: one user's rights, assembled from the parts by area, and ``access_for``."""

from __future__ import annotations

import contextlib
from typing import Any

from .approvals import ApprovalRights
from .runs import RunRights


class Access(ApprovalRights, RunRights):
    """One user's rights, loaded once (one query for grants) and reused for a request.

    The parts: panel roles and teams (``roles``), DAGs (``grants``), runs (``runs``) and
    the two-person rule (``approvals``).
    """


def access_for(user: Any) -> Access:
    """The user's ``Access``, cached on the user object for the rest of the request."""
    cached = getattr(user, "_panel_access", None)
    if isinstance(cached, Access):
        return cached
    access = Access(user)
    if user is not None:
        with contextlib.suppress(AttributeError):
            user._panel_access = access
    return access
