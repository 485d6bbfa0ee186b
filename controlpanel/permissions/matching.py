"""Which DAGs a selector picks: the one matching rule, in its SQL form and its Python form.

A grant (and a notification subscription's scope) names DAGs by exact ids, by globs on the
id (``*`` any run of characters, ``?`` one) and by exact tags. A DAG is picked when its id
is listed, its id matches a glob, or it carries a listed tag, case and all.

Each part is written below in both forms side by side: SQL to list many DAGs in one query
(the catalog, visible DAGs, a grant's preview), Python to decide one DAG already in hand
(``Access.can``, approvals, notifications). tests/controlpanel/test_dag_matching.py proves
the two forms agree on generated ids, globs and tags of any characters.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

from django.db.models import Q

from controlpanel.models import DagGrant, tag_index_for


def glob_to_regex(pattern: str) -> str:
    """A DAG id glob as an anchored regex, the same for both forms.

    Only portable constructs, so SQLite (Python's re) and PostgreSQL agree on it.
    """
    # \A and \Z, not ^ and $ (Python's $ also matches before a final newline); "(?:.|\n)",
    # not ".", which in Python stops at a newline and in PostgreSQL does not.
    parts = []
    for char in pattern:
        if char == "*":
            parts.append(r"(?:.|\n)*")
        elif char == "?":
            parts.append(r"(?:.|\n)")
        else:
            parts.append(re.escape(char))
    return r"\A" + "".join(parts) + r"\Z"


def carries_tag(tag: str) -> Q:
    """A filter on ``Dag`` rows: the DAG carries exactly this tag (case and all).

    The SQL form of ``tag in dag.tags``, for grants, the catalog's tag filter and the
    Airflow-compatible ``/dags``. It reads the ``tag_index`` column the Dag model keeps
    (``|a|b|``, with ``|`` and ``%`` escaped inside tags): the index of a DAG carrying only
    this tag, bars included, stands in the index of every DAG carrying it. A regex, not
    ``contains``: SQLite's LIKE ignores case, Airflow's tags do not.
    """
    return Q(tag_index__regex=re.escape(tag_index_for([tag])))


def dag_matches(
    dag_id: str,
    dag_tags: Collection[str],
    *,
    ids: Collection[str] = (),
    patterns: Collection[str] = (),
    tags: Collection[str] = (),
) -> bool:
    """The Python form: does the selector (ids, globs, tags) pick this one DAG?"""
    return (
        dag_id in ids
        or any(re.search(glob_to_regex(pattern), dag_id) for pattern in patterns)
        or any(tag in dag_tags for tag in tags)
        # Owners: when a grant can name them (a later change), their part joins here and in
        # ``dags_matching``, and the generated test draws owners too.
    )


def dags_matching(
    *, ids: Collection[str] = (), patterns: Collection[str] = (), tags: Collection[str] = ()
) -> Q:
    """The SQL form: a filter on ``Dag`` rows picking the selector's DAGs, in one query."""
    selected = Q(pk__in=[])  # nothing, until a part picks something
    if ids:
        selected |= Q(dag_id__in=list(ids))
    for pattern in patterns:
        selected |= Q(dag_id__regex=glob_to_regex(pattern))
    for tag in tags:
        selected |= carries_tag(tag)
    # Owners: their part joins here and in ``dag_matches`` (see there).
    return selected


def grant_matches(grant: DagGrant, dag_id: str, dag_tags: Collection[str]) -> bool:
    """Whether the grant picks this DAG, whatever its profile (the caller compares those)."""
    return dag_matches(
        dag_id, dag_tags, ids=grant.dag_ids, patterns=grant.dag_patterns, tags=grant.tags
    )


def dags_granted_by(grants: Iterable[DagGrant]) -> Q:
    """A filter on ``Dag`` rows: the DAGs any of these grants picks, each on its own profile."""
    selected = Q(pk__in=[])
    for grant in grants:
        picked = dags_matching(ids=grant.dag_ids, patterns=grant.dag_patterns, tags=grant.tags)
        selected |= Q(profile_id=grant.profile_id) & picked
    return selected
