"""What the catalog sync needs to ask Airflow only what changed.

``Dag.source_digest`` (with ``last_parsed_at``) tells a re-parse of an unchanged file from
a change; ``AirflowProfile.catalog_synced_at`` tells a profile whose DAG list was never
read. Profiles that already have a catalog count as synced when their newest DAG was.
"""

from django.db import migrations, models
from django.db.models import Max


def mark_synced_profiles(apps, schema_editor):
    profile_model = apps.get_model("controlpanel", "AirflowProfile")
    newest = profile_model.objects.annotate(newest=Max("dags__synced_at"))
    for profile in newest.filter(newest__isnull=False):
        profile_model.objects.filter(pk=profile.pk).update(catalog_synced_at=profile.newest)


class Migration(migrations.Migration):
    dependencies = [("controlpanel", "0009_directory_groups")]

    operations = [
        migrations.AddField(
            model_name="dag",
            name="source_digest",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddField(
            model_name="airflowprofile",
            name="catalog_synced_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(mark_synced_profiles, migrations.RunPython.noop),
    ]
