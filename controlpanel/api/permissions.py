"""Who may call the API at all: signed-in, active users; read-only tokens only read.

What a user may do to a DAG, profile or team is decided by ``controlpanel.permissions``
and the services, never here.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from controlpanel.api.authentication import token_of
from controlpanel.audit import Actor
from controlpanel.services import tokens


class SignedIn(BasePermission):
    """An active user (by session or token); writes refused to read-only tokens (audited)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        token = token_of(request)
        if request.method not in SAFE_METHODS and token is not None:
            actor = Actor.from_request(request._request, source="api", token_prefix=token.prefix)
            tokens.check_may_write(actor, token, request.method or "", request.path)
        return True
