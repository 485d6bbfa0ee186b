"""Log records with the request id, written as plain lines or as JSON lines (LOG_FORMAT)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from django.http import HttpRequest

from controlpanel.request_id import current_request_id, request_id_of

NO_REQUEST_ID = "-"


class RequestIdFilter(logging.Filter):
    """Sets ``record.request_id``: the request or task being handled, or "-"."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            request_id = current_request_id()
            # Django logs 4xx/5xx responses after the middleware returned; it passes the request.
            request = getattr(record, "request", None)
            if not request_id and isinstance(request, HttpRequest):
                request_id = request_id_of(request)
            record.request_id = request_id or NO_REQUEST_ID
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, exception."""

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", NO_REQUEST_ID)
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": None if request_id == NO_REQUEST_ID else request_id,
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)
