"""App configuration for the control panel."""

from django.apps import AppConfig


class ControlPanelConfig(AppConfig):
    """The single Django app holding the panel's models, views and tasks."""

    name = "controlpanel"
    verbose_name = "Airflow Control Panel"
    default_auto_field = "django.db.models.BigAutoField"
