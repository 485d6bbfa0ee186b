"""The Celery application shared by the web process, the workers and beat.

Configuration comes from Django settings (every ``CELERY_*`` name), so there is one place to
look for broker, serializer and schedule settings.
"""

import logging.config
import os
from typing import Any

from celery import Celery, signals

from controlpanel import request_id

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "controlpanel.settings")

app = Celery("controlpanel")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Task ids in logs and audit events: the enqueuing request's, or one per task (beat).
signals.before_task_publish.connect(request_id.add_to_task_headers)
signals.task_prerun.connect(request_id.start_task)
signals.task_postrun.connect(request_id.end_task)


@signals.setup_logging.connect
def use_django_logging(**_: Any) -> None:
    """Workers and beat log like the web (LOG_FORMAT, request ids), not in Celery's format."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
