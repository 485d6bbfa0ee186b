"""Date filters of the list reads: whole days in the panel's time zone."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import TypeVar

from django.db.models import Model, QuerySet
from django.utils import timezone

M = TypeVar("M", bound=Model)


def day_start(day: date) -> datetime:
    """Midnight of ``day`` in the panel's time zone."""
    return timezone.make_aware(datetime.combine(day, time.min))


def filter_dates(qs: QuerySet[M], field: str, start: date | None, end: date | None) -> QuerySet[M]:
    """Rows from the start of ``start`` to the end of ``end`` (both optional, inclusive)."""
    if start:
        qs = qs.filter(**{f"{field}__gte": day_start(start)})
    if end:
        qs = qs.filter(**{f"{field}__lt": day_start(end + timedelta(days=1))})
    return qs
