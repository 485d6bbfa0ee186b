"""Pages of a list read newest first by id (keyset), so a deep page costs what the first does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from django.db.models import Model, QuerySet

M = TypeVar("M", bound=Model)

PAGE_SIZE = 50


@dataclass
class KeysetPage:
    """One page of rows newest first, and the id to continue from (None on the last page)."""

    items: list[Any]
    next_before: int | None


def keyset_page(qs: QuerySet[M], before: int | None, size: int = PAGE_SIZE) -> KeysetPage:
    """Rows with id below ``before``, by id descending: an index range scan at any depth."""
    if before is not None:
        qs = qs.filter(pk__lt=before)
    return first_page(qs.order_by("-pk"), size)


def first_page(qs: QuerySet[M], size: int = PAGE_SIZE) -> KeysetPage:
    """The first ``size`` rows in the queryset's own order, and the id to continue from."""
    rows = list(qs[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return KeysetPage(rows, rows[-1].pk if more and rows else None)
