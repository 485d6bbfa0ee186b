"""Per-token request throttling (per user for sessions), rate from ``API_THROTTLE_RATE``."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.cache import BaseCache, caches
from redis.exceptions import RedisError
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from controlpanel.api.authentication import token_of

log = logging.getLogger(__name__)


class TokenRateThrottle(SimpleRateThrottle):
    """Each token gets its own budget, so one busy integration cannot starve the others."""

    scope = "api"

    @property
    def cache(self) -> BaseCache:  # type: ignore[override]
        """Redis (settings.CACHES["throttle"]): one budget across all web processes."""
        return caches["throttle"]

    def allow_request(self, request: Request, view: Any) -> bool:
        try:
            return super().allow_request(request, view)
        except RedisError as exc:
            # Fail open: an outage of the counters must not take the API down with it.
            log.warning("API throttling is off while Redis cannot be reached: %s", exc)
            return True

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
