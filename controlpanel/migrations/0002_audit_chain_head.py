"""Create the single audit chain head row the audit service locks while appending."""

from django.db import migrations


def create_head(apps, schema_editor):
    head_model = apps.get_model("controlpanel", "AuditChainHead")
    head_model.objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [("controlpanel", "0001_initial")]

    operations = [migrations.RunPython(create_head, migrations.RunPython.noop)]
