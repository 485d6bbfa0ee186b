"""Template tags that ask the permission module, so templates never re-implement a check."""

from __future__ import annotations

from typing import Any

from django import template

from controlpanel.models import Dag
from controlpanel.permissions import DagAction, access_for

register = template.Library()


@register.simple_tag(takes_context=True)
def may(context: dict[str, Any], action: str, dag: Dag) -> bool:
    """``{% may "trigger" dag as can_trigger %}``: may the current user do this to the DAG?"""
    request = context.get("request")
    user = getattr(request, "user", None)
    return access_for(user).can(DagAction(action), dag)


@register.simple_tag(takes_context=True)
def dag_permissions(context: dict[str, Any], dag: Dag) -> list[str]:
    """``{% dag_permissions dag as levels %}``: ["view", "trigger", ...] for the current user."""
    request = context.get("request")
    return access_for(getattr(request, "user", None)).dag_permissions(dag)


@register.simple_tag(takes_context=True)
def may_manage(context: dict[str, Any]) -> bool:
    """``{% may_manage as show %}``: may the current user manage anything (the Manage link)?"""
    request = context.get("request")
    return access_for(getattr(request, "user", None)).can_manage_anything()
