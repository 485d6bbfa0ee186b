"""Sign-in through the directory: teams map directory groups, memberships say where they came
from, directory accounts link users to their directory identity, audit events may come from
a directory sign-in.

Existing memberships were all added by hand ("manual").
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import controlpanel.models.teams


class Migration(migrations.Migration):
    dependencies = [
        ("controlpanel", "0008_audit_keyed_chain"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="team",
            name="directory_groups",
            field=models.JSONField(
                blank=True,
                default=list,
                validators=[controlpanel.models.teams.validate_directory_groups],
            ),
        ),
        migrations.AddField(
            model_name="teammembership",
            name="source",
            field=models.CharField(
                choices=[("manual", "Added by hand"), ("directory", "From a directory group")],
                default="manual",
                max_length=10,
            ),
        ),
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
                ],
                max_length=10,
            ),
        ),
        migrations.CreateModel(
            name="DirectoryAccount",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "provider",
                    models.CharField(
                        choices=[("oidc", "OpenID Connect"), ("ldap", "LDAP")], max_length=10
                    ),
                ),
                ("subject", models.CharField(max_length=500)),
                ("groups", models.JSONField(blank=True, default=list)),
                ("admin_from_directory", models.BooleanField(default=False)),
                ("auditor_from_directory", models.BooleanField(default=False)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("last_sign_in_at", models.DateTimeField(blank=True, null=True)),
                (
                    "user",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="directory_account",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("provider", "subject"), name="one_account_per_identity"
                    )
                ],
            },
        ),
    ]
