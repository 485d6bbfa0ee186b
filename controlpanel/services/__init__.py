"""Business rules: every state change goes through a function here.

Each one runs inside ``controlpanel.audit.audited``: it checks access there with
``controlpanel.permissions.require`` and makes its change, and ``audited`` writes the event,
succeeded in the change's transaction, denied or failed after it rolled back.
"""

from __future__ import annotations

from typing import TypeVar

from django.db.models import Model
from django.http import Http404

RowT = TypeVar("RowT", bound=Model)


def lock_row(instance: RowT, gone: str) -> RowT:
    """The row of ``instance`` locked until the transaction ends; Http404(gone) if it is gone.

    Two requests removing the same thing both loaded it; the lock makes the second wait for
    the first and then find nothing, so only one change (and one audit event) happens.
    """
    locked = type(instance)._default_manager.select_for_update().filter(pk=instance.pk).first()
    if locked is None:
        raise Http404(gone)
    return locked
