"""One rule decides which DAGs a grant selects, written once in
``controlpanel.permissions.matching``: its SQL form (``dags_granted_by``, and ``carries_tag``
for the catalog's and the Airflow-compatible API's tag filters) and its Python form
(``grant_matches``, ``tag in dag.tags``) are proven equal by one generated test on ids, globs
and tags with any characters, on SQLite and again on PostgreSQL (the ``engine`` pass)."""

from __future__ import annotations

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controlpanel.models import AirflowProfile, Dag, DagGrant, Team
from controlpanel.permissions.matching import carries_tag, dags_granted_by, grant_matches
from tests.factories import (
    DagFactory,
    GrantFactory,
    MembershipFactory,
    ProfileFactory,
    TeamFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

# Any text PostgreSQL can store (no NUL, no lone surrogate), and a small alphabet full of the
# characters that matter (glob and regex specials, the index's separator and escape, a
# newline, case) so that ids, globs and tags often meet.
ANY_CHARACTER = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
TRICKY = st.sampled_from(list("aAb_.-|%*?[]()^$\\\n Zé"))
TEXT = st.one_of(
    st.text(TRICKY, min_size=1, max_size=6), st.text(ANY_CHARACTER, min_size=1, max_size=12)
)
GLOB = st.one_of(st.text(st.one_of(TRICKY, st.sampled_from("**??")), min_size=1, max_size=6), TEXT)
DAGS = st.lists(
    st.tuples(TEXT, st.lists(TEXT, max_size=3)), min_size=1, max_size=6, unique_by=lambda d: d[0]
)
GENERATED = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def profile() -> AirflowProfile:
    return ProfileFactory.create(slug="gen")


@pytest.fixture
def team() -> Team:
    return TeamFactory.create(slug="gen-team")


def _catalog(profile: AirflowProfile, dags: list[tuple[str, list[str]]]) -> list[Dag]:
    Dag.objects.filter(profile=profile).delete()
    return [Dag.objects.create(profile=profile, dag_id=i, tags=tags) for i, tags in dags]


def _near(data: st.DataObject, catalog: list[tuple[str, list[str]]]) -> str:
    """A value close to the catalog: one of its ids or tags, a piece of one (split on the
    index's ``|``, cut short, case changed), or anything at all."""
    known = [i for i, _ in catalog] + [t for _, tags in catalog for t in tags]
    value = data.draw(st.sampled_from(known))
    pieces = [p for p in value.split("|") if p] or [value]
    return data.draw(
        st.one_of(
            st.just(value),
            st.sampled_from(pieces),
            st.just(value.swapcase()),
            st.just(value[: len(value) // 2] or value),
            TEXT,
        )
    )


def _glob_near(data: st.DataObject, value: str) -> str:
    """``value`` with some characters replaced by ``*`` or ``?`` (or kept)."""
    chars = [data.draw(st.sampled_from([c, c, "*", "?"])) for c in value]
    return "".join(chars) or "*"


@GENERATED
@given(dags=DAGS, data=st.data())
def test_the_rule_picks_the_same_dags_in_sql_and_in_python(
    profile: AirflowProfile, team: Team, dags: list[tuple[str, list[str]]], data: st.DataObject
) -> None:
    rows = _catalog(profile, dags)
    few = st.integers(min_value=0, max_value=2)
    grant = DagGrant(
        team=team,
        profile=profile,
        level="view",
        dag_ids=[_near(data, dags) for _ in range(data.draw(few))],
        dag_patterns=[_glob_near(data, _near(data, dags)) for _ in range(data.draw(few))]
        + data.draw(st.lists(GLOB, max_size=1)),
        tags=[_near(data, dags) for _ in range(data.draw(few))],
    )
    in_sql = set(Dag.objects.filter(dags_granted_by([grant])).values_list("dag_id", flat=True))
    in_python = {dag.dag_id for dag in rows if grant_matches(grant, dag.dag_id, dag.tags)}
    assert in_sql == in_python
    # The tag part alone, as the catalog's tag filter and the Airflow-compatible /dags use it.
    for tag in grant.tags:
        in_sql = set(Dag.objects.filter(carries_tag(tag)).values_list("dag_id", flat=True))
        assert in_sql == {dag.dag_id for dag in rows if tag in dag.tags}


@pytest.mark.parametrize(
    ("tag", "other"),
    [("sectag", "zz|sectag"), ("a|b", "a"), ("100%", "100%25"), ("ETL", "etl")],
)
def test_a_tag_grant_never_reaches_a_dag_whose_tag_merely_contains_it(tag: str, other: str) -> None:
    profile = ProfileFactory.create(slug="prod")
    DagFactory.create(profile=profile, dag_id="granted", tags=[tag])
    DagFactory.create(profile=profile, dag_id="secret", tags=[other, "zz"])
    team = TeamFactory.create(slug="readers")
    user = UserFactory.create(username="reader")
    MembershipFactory.create(team=team, user=user)
    GrantFactory.create(team=team, profile=profile, tags=[tag], level="view")
    client = Client()
    client.force_login(user)

    ids = [d["dag_id"] for d in client.get("/api/dags/").json()["results"]]
    assert ids == ["granted"]
    assert client.get("/dags/prod/secret/").status_code == 404
    assert client.get("/api/dags/prod/secret/").status_code == 404
    page = client.get("/", {"tag": tag}).content.decode()
    assert "/dags/prod/granted/" in page and "/dags/prod/secret/" not in page


def test_old_rows_are_reindexed_by_the_migration(profile: AirflowProfile) -> None:
    from importlib import import_module

    from django.apps import apps

    migration = import_module("controlpanel.migrations.0016_tag_index_escapes_bars")
    Dag.objects.create(profile=profile, dag_id="old", tags=["zz|sectag"])
    Dag.objects.filter(dag_id="old").update(tag_index="|sectag|zz|")  # as written before
    assert Dag.objects.filter(carries_tag("sectag")).exists()
    migration.rewrite_tag_index(apps, None)
    assert not Dag.objects.filter(carries_tag("sectag")).exists()
    assert Dag.objects.filter(carries_tag("zz|sectag")).get().dag_id == "old"
