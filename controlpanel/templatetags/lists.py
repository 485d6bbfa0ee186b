"""Markup the list pages share: the pager, the filter selects and state badges.

``{% load lists %}``, then ``{% numbered_pager page params %}`` or ``{% keyset_pager ... %}``,
``{% filter_select ... %}`` and ``{% state_badge badge %}``; so each is written once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from django import template
from django.core.paginator import Page
from django.utils.html import format_html
from django.utils.safestring import SafeString

from controlpanel.models import AuditEvent
from controlpanel.views.listing import Badge
from controlpanel.views.listing import outcome_badge as badge_of_outcome

register = template.Library()


@register.simple_tag
def query_string(params: dict[str, str], **extra: Any) -> str:
    """``{% query_string params page=2 %}``: the filters, then ``extra``, for a link's query.

    Every filter is kept, empty ones too, in the form's order.
    """
    pairs = [*params.items(), *extra.items()]
    return "&".join(f"{key}={quote(str(value), safe='/')}" for key, value in pairs)


@dataclass(frozen=True)
class PagerLink:
    """A link of the pager: its query string (without "?") and its words."""

    query: str
    label: str


@register.inclusion_tag("_pager.html")
def numbered_pager(page: Page[Any], params: dict[str, str]) -> dict[str, Any]:
    """``{% numbered_pager page params %}``: previous and next page keeping the filters."""
    back = forward = None
    if page.has_previous():
        back = PagerLink(query_string(params, page=page.previous_page_number()), "Previous page")
    if page.has_next():
        forward = PagerLink(query_string(params, page=page.next_page_number()), "Next page")
    position = f"Page {page.number} of {page.paginator.num_pages}"
    return {"back": back, "position": position, "forward": forward}


@register.inclusion_tag("_pager.html")
def keyset_pager(
    paged: bool, newest_query: str, older_query: str, older_label: str
) -> dict[str, Any]:
    """``{% keyset_pager paged newest_query older_query "Older runs" %}``: newest, older.

    Keyset pages have no numbers: "Newest" once the user has left the first page, and
    "Older ..." while there are more rows (``older_query`` empty on the last page).
    """
    return {
        "back": PagerLink(newest_query, "Newest") if paged else None,
        "position": "",
        "forward": PagerLink(older_query, older_label) if older_query else None,
    }


def _option(option: Any) -> tuple[str, str]:
    """(value, text) of a select option: a pair, a profile or team (slug, name), or a value."""
    if isinstance(option, tuple | list):
        value, text = option
        return str(value), str(text)
    if hasattr(option, "slug") and hasattr(option, "name"):
        return option.slug, option.name
    return str(option), str(option)


@register.inclusion_tag("_filter_select.html")
def filter_select(
    name: str, label: str, any_label: str, options: Iterable[Any], selected: str
) -> dict[str, Any]:
    """``{% filter_select "profile" "Airflow" "Every Airflow" profiles params.profile %}``.

    A filter form's select: "any" first, then the options, the current value selected.
    """
    return {
        "name": name,
        "label": label,
        "any_label": any_label,
        "options": [_option(option) for option in options],
        "selected": selected,
    }


@register.simple_tag
def state_badge(badge: Badge) -> SafeString:
    """``{% state_badge badge %}``: a state in words, with a colour that only reinforces them."""
    return format_html('<span class="state {}">{}</span>', badge.css, badge.label)


@register.filter
def outcome_badge(event: AuditEvent) -> Badge:
    """``{% state_badge event|outcome_badge %}``: an audit event's outcome as a badge."""
    return badge_of_outcome(event)
