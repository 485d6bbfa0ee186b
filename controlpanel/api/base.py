"""The base of every API view: who is calling, through which token, with what rights."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from rest_framework.generics import GenericAPIView

from controlpanel.api.authentication import token_of
from controlpanel.api.pagination import ApiPagination
from controlpanel.api.permissions import SignedIn
from controlpanel.api.throttling import TokenRateThrottle
from controlpanel.audit import Actor
from controlpanel.permissions import Access, access_for


class ApiSchema(AutoSchema):
    """Tells the schema which GETs answer a paginated list (``list_view = True``)."""

    def _is_list_view(self, serializer: Any = None) -> bool:
        if self.method == "GET" and getattr(self.view, "list_view", False):
            return True
        return bool(super()._is_list_view(serializer))


class ApiView(GenericAPIView[Any]):
    """Signed-in callers only, throttled per token, paginated lists."""

    schema = ApiSchema()
    list_view = False  # True where GET answers a paginated list
    permission_classes = [SignedIn]
    throttle_classes = [TokenRateThrottle]
    pagination_class = ApiPagination

    @property
    def access(self) -> Access:
        """The caller's rights (``controlpanel.permissions``)."""
        return access_for(self.request.user)

    def me(self) -> Any:
        """The signed-in caller (never anonymous past ``SignedIn``)."""
        return self.request.user

    def actor(self) -> Actor:
        """The caller as the audit trail records them (source "api", token prefix)."""
        token = token_of(self.request)
        return Actor.from_request(
            self.request._request, source="api", token_prefix=token.prefix if token else ""
        )

    def paginated(self, queryset: Any, serializer_class: Any, **context: Any) -> Any:
        """One page of ``queryset`` as ``count, next, previous, results``."""
        page = self.paginate_queryset(queryset)
        data = serializer_class(page, many=True, context={"request": self.request, **context}).data
        return self.get_paginated_response(data)
