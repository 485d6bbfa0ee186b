"""App configuration for the control panel."""

from django.apps import AppConfig


class ControlPanelConfig(AppConfig):
    """The single Django app holding the panel's models, views and tasks."""

    name = "controlpanel"
    verbose_name = "Airflow Control Panel"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Connect the login audit receivers and register the encryption and audit key checks."""
        # Imported here: both need the app registry, which is only ready now.
        from django.core import checks

        from controlpanel import signals
        from controlpanel.audit_keys import check_audit_hmac_keys
        from controlpanel.checks import check_field_encryption_keys

        signals.connect_signals()
        checks.register(check_field_encryption_keys, checks.Tags.security)
        checks.register(check_audit_hmac_keys, checks.Tags.security)
