"""Celery tasks of the control panel. Tasks stay thin: load by id, call a service."""

from celery import shared_task


@shared_task
def ping() -> str:
    """Return "pong"; proves a worker is consuming from the broker and storing results."""
    return "pong"
