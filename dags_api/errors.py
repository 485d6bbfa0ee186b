"""Typed errors raised by the Airflow client.

Every error carries ``user_message`` (one sentence a non-technical user can read) and
``detail`` (what Airflow or the network actually said, for admins and the audit trail).
"""

from __future__ import annotations

import re
from typing import Literal

ConflictClash = Literal["dag_run_id", "logical_date", "unknown"]
UnavailableReason = Literal["refused", "dns", "tls", "timeout", "connection"]

_PARAM_ERROR = re.compile(r"Invalid input for param (?P<name>[^:\s]+):\s*(?P<message>.*)", re.S)


class AirflowError(Exception):
    """Base class of everything the client raises about talking to Airflow."""

    default_message = "Airflow could not carry out the request."

    def __init__(
        self,
        user_message: str | None = None,
        *,
        detail: str = "",
        status_code: int | None = None,
    ) -> None:
        self.user_message = user_message or self.default_message
        self.detail = detail
        self.status_code = status_code
        super().__init__(self.user_message)

    def __str__(self) -> str:
        if self.detail and self.detail not in self.user_message:
            return f"{self.user_message} ({self.detail})"
        return self.user_message


class InsecureConnectionError(AirflowError):
    """Credentials would be sent over plain http:// and the caller did not allow it."""

    default_message = (
        "This connection would send its credentials unencrypted over http://; "
        "use https:// or explicitly allow plain http for it."
    )


class AirflowAuthError(AirflowError):
    """Airflow refused the credentials or the role behind them (401 or 403).

    Airflow 2 answers 403 for wrong credentials as well as for a missing permission,
    so the two cannot be told apart.
    """

    default_message = "Airflow refused the request: check the credentials or the Airflow role."


class AirflowNotFound(AirflowError):
    """The DAG, run, task instance or log does not exist in Airflow (404)."""

    default_message = "Airflow could not find what was asked for."


class AirflowConflict(AirflowError):
    """The run clashes with an existing one (409); ``clash`` says on what."""

    default_message = "Airflow already has a run like this."

    def __init__(
        self,
        user_message: str | None = None,
        *,
        detail: str = "",
        status_code: int | None = 409,
        clash: ConflictClash = "unknown",
    ) -> None:
        super().__init__(user_message, detail=detail, status_code=status_code)
        self.clash = clash


class AirflowValidationError(AirflowError):
    """Airflow (or the client, before sending) rejected the input (400/422).

    ``param`` names the DAG param when the problem is a param's value.
    """

    default_message = "Airflow rejected the request as invalid."

    def __init__(
        self,
        user_message: str | None = None,
        *,
        detail: str = "",
        status_code: int | None = 400,
        param: str | None = None,
    ) -> None:
        super().__init__(user_message, detail=detail, status_code=status_code)
        self.param = param

    @classmethod
    def from_detail(cls, detail: str, status_code: int | None = 400) -> AirflowValidationError:
        """Build the error from Airflow's message, naming the param when it is a param error."""
        match = _PARAM_ERROR.search(detail)
        if match:
            name = match.group("name")
            reason = _first_line(match.group("message"))
            return cls(
                f"The value of '{name}' is not valid: {reason}",
                detail=detail,
                status_code=status_code,
                param=name,
            )
        reason = _first_line(detail) or "no reason given"
        return cls(
            f"Airflow rejected the request: {reason}",
            detail=detail,
            status_code=status_code,
        )


class AirflowRequestRejected(AirflowError):
    """Airflow answered with a 4xx status that none of the other errors describes."""

    default_message = "Airflow rejected the request."


class AirflowServerError(AirflowError):
    """Airflow failed internally (5xx, HTML error pages) or answered something unreadable."""

    default_message = (
        "Airflow had an internal error; an administrator can find the details in the "
        "Airflow webserver log."
    )


class AirflowUnavailable(AirflowError):
    """Airflow could not be reached: refused, unknown host, TLS failure or timeout."""

    default_message = "Airflow could not be reached."

    def __init__(
        self,
        user_message: str | None = None,
        *,
        detail: str = "",
        reason: UnavailableReason = "connection",
    ) -> None:
        super().__init__(user_message, detail=detail, status_code=None)
        self.reason = reason


def _first_line(text: str) -> str:
    """The first non-empty line of ``text``: jsonschema messages repeat the schema below it."""
    for line in text.strip().splitlines():
        if line.strip():
            return line.strip()
    return ""
