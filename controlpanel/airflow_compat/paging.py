"""Airflow's paging: ``limit`` (at most 100) and ``offset``, and ``order_by``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rest_framework import serializers
from rest_framework.request import Request

from controlpanel import limits

DEFAULT_LIMIT = 100
MAX_LIMIT = 100  # Airflow's maximum_page_limit


@dataclass(frozen=True)
class Paging:
    """One page: ``offset``, ``limit`` and the requested ``order_by`` (may be empty)."""

    offset: int
    limit: int
    ordering: str = ""

    @classmethod
    def of(cls, request: Request) -> Paging:
        """The paging of a GET request's query string."""
        params = request.query_params
        offset = limits.whole_number("offset", params.get("offset", "") or "0", 0, 10**9)
        limit = limits.whole_number("limit", params.get("limit", "") or "100", 0, 10**9)
        return cls(offset, min(limit, MAX_LIMIT), params.get("order_by", "").strip())

    @classmethod
    def of_body(cls, data: dict[str, Any]) -> Paging:
        """The paging of a batch body (``page_offset``, ``page_limit``, ``order_by``)."""
        limit = min(data.get("page_limit") or DEFAULT_LIMIT, MAX_LIMIT)
        return cls(data.get("page_offset") or 0, limit, data.get("order_by") or "")

    def order_by(self, default: str, allowed: set[str]) -> str:
        """The ORM ordering for ``order_by`` (``-field`` descending); 400 for others."""
        wanted = self.ordering or default
        if wanted.lstrip("-") not in allowed:
            raise serializers.ValidationError(f"Ordering with '{wanted}' is not allowed.")
        return wanted

    def sort(self, items: list[Any], key: Callable[[Any], Any]) -> list[Any]:
        """``items`` in Airflow's order: by ``order_by`` (a field) if given, else by ``key``."""
        field = self.ordering.lstrip("-")
        if field and not all(hasattr(item, field) for item in items):
            raise serializers.ValidationError(f"Ordering with '{self.ordering}' is not allowed.")

        def sort_key(item: Any) -> tuple[bool, Any]:
            value = getattr(item, field) if field else key(item)
            return (value is None, value if value is not None else 0)

        return sorted(items, key=sort_key, reverse=self.ordering.startswith("-"))
