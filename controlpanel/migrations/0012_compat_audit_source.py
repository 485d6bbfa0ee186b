"""The audit trail names the Airflow-compatible API as a source."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("controlpanel", "0011_audit_history_indexes")]

    operations = [
        migrations.AlterField(
            model_name="auditevent",
            name="source",
            field=models.CharField(
                choices=[
                    ("web", "Web"),
                    ("api", "API"),
                    ("worker", "Worker"),
                    ("cli", "Command line"),
                    ("directory", "Directory sign-in"),
                    ("airflow", "Airflow-compatible API"),
                ],
                max_length=10,
            ),
        ),
    ]
