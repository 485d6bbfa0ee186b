"""Per-token request throttling (per user for sessions), rate from ``API_THROTTLE_RATE``."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from controlpanel.api.authentication import token_of


class TokenRateThrottle(SimpleRateThrottle):
    """Each token gets its own budget, so one busy integration cannot starve the others."""

    scope = "api"

    def get_rate(self) -> str | None:
        # Read at request time (not import time) so a changed setting applies.
        return str(settings.API_THROTTLE_RATE)

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        token = token_of(request)
        if token is not None:
            ident = f"token:{token.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"ip:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
