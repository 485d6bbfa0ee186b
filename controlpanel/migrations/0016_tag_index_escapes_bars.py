"""Rewrite every DAG's ``tag_index`` with ``|`` and ``%`` escaped inside tags.

Before, a DAG tagged ``zz|sectag`` was indexed as ``|zz|sectag|`` and so matched a grant on
the tag ``sectag`` in SQL while the per-DAG check said no. Only rows whose index changes are
written, in batches, so a large catalog is rewritten in a few queries.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations


def _index(tags: list[str]) -> str:
    # A copy of tag_index_for as of this migration (migrations must not follow the models).
    ordered = sorted({t.replace("%", "%25").replace("|", "%7C") for t in tags})
    return "|" + "|".join(ordered) + "|" if ordered else ""


def rewrite_tag_index(apps: Any, schema_editor: Any) -> None:
    Dag = apps.get_model("controlpanel", "Dag")
    changed = []
    for dag in Dag.objects.only("pk", "tags", "tag_index").iterator(chunk_size=2000):
        index = _index(dag.tags or [])
        if index != dag.tag_index:
            dag.tag_index = index
            changed.append(dag)
    Dag.objects.bulk_update(changed, ["tag_index"], batch_size=500)


class Migration(migrations.Migration):
    dependencies = [("controlpanel", "0015_run_history_indexes")]

    operations = [migrations.RunPython(rewrite_tag_index, migrations.RunPython.noop)]
