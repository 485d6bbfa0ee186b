"""The Celery application shared by the web process, the workers and beat.

Configuration comes from Django settings (every ``CELERY_*`` name), so there is one place to
look for broker, serializer and schedule settings.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "controlpanel.settings")

app = Celery("controlpanel")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
