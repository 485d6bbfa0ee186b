"""The Airflow Control Panel: Django project and its single app.

The Celery app is imported here so that it is configured whenever Django starts, and so that
``celery -A controlpanel worker`` / ``celery -A controlpanel beat`` find it as ``celery_app``.
"""

from controlpanel.celery import app as celery_app

__all__ = ("celery_app",)
