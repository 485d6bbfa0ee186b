"""The keyed audit chain: events record how their link was made and with which key.

Events already written keep their plain SHA-256 links (``algorithm`` sha256, no key id);
new events are HMAC-signed and chain on from the last old hash, so verification goes on
across the switch.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("controlpanel", "0007_dag_param_order_doc_md")]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="algorithm",
            field=models.CharField(
                choices=[
                    ("sha256", "SHA-256 (before the keyed chain)"),
                    ("hmac-sha256", "HMAC-SHA256"),
                ],
                default="sha256",
                max_length=16,
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="auditevent",
            name="key_id",
            field=models.CharField(blank=True, default="", max_length=16, verbose_name="key id"),
        ),
    ]
