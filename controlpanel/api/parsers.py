"""The API's JSON parser: DRF's, with deep nesting refused as a 400 rather than a crash."""

from __future__ import annotations

from typing import IO, Any

from django.conf import settings
from rest_framework import exceptions, parsers

from controlpanel.limits import too_deep


class JSONParser(parsers.JSONParser):
    """JSON bodies nested deeper than the panel reads are a parse error (400), never a 500.

    Python's decoder gives up with RecursionError near a thousand levels; what it can read
    is held to a few levels past ``CONF_MAX_DEPTH`` (the body wraps the conf).
    """

    def parse(
        self, stream: IO[Any], media_type: str | None = None, parser_context: Any = None
    ) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            data = None
        else:
            if not too_deep(data, settings.CONF_MAX_DEPTH + 2):
                return data
        message = f"The JSON is nested too deeply (at most {settings.CONF_MAX_DEPTH} levels)."
        raise exceptions.ParseError(message)
