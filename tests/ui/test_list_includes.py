"""The markup the list pages share: pager, filter selects and badges on catalog, runs, history."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.test import Client

from controlpanel.audit import Actor, record_event
from controlpanel.models import AuditEvent, Run
from tests.factories import DagFactory, RunFactory
from tests.world import World

pytestmark = pytest.mark.django_db
ClientAs = Callable[[str], Client]


def pager(html: str) -> list[tuple[str, str]]:
    """The page's one pager as (href, text) for links and ("", text) for the position."""
    navs = re.findall(r'<nav class="pager" aria-label="Pages">(.*?)</nav>', html, re.S)
    assert len(navs) == 1
    parts = re.findall(r'<a href="([^"]*)">([^<]*)</a>|<span>([^<]*)</span>', navs[0])
    return [(href, link or position) for href, link, position in parts]


def test_catalog_pager_keeps_the_filters_and_numbers_pages(
    world: World, client_as: ClientAs
) -> None:
    for i in range(110):
        DagFactory.create(profile=world.prod, dag_id=f"bulk_{i:03}", tags=["bulk"])
    html = client_as("superuser").get("/?tag=bulk&page=2").content.decode()
    assert pager(html) == [
        ("?q=&amp;tag=bulk&amp;profile=&amp;paused=&amp;page=1", "Previous page"),
        ("", "Page 2 of 3"),
        ("?q=&amp;tag=bulk&amp;profile=&amp;paused=&amp;page=3", "Next page"),
    ]
    last = client_as("superuser").get("/?tag=bulk&page=3").content.decode()
    assert [text for _, text in pager(last)] == ["Previous page", "Page 3 of 3"]


def test_runs_pager_links_newest_and_older(world: World, client_as: ClientAs) -> None:
    RunFactory.create_batch(110, profile=world.prod, dag_id="bulk_dag")
    ids = list(Run.objects.filter(dag_id="bulk_dag").order_by("-pk").values_list("pk", flat=True))
    html = client_as("superuser").get(f"/runs/?scope=all&dag=bulk_dag&before={ids[49]}")
    assert pager(html.content.decode()) == [
        ("?dag=bulk_dag&amp;profile=&amp;state=&amp;from=&amp;to=&amp;scope=all", "Newest"),
        (f"?scope=all&amp;dag=bulk_dag&amp;before={ids[99]}", "Older runs"),
    ]
    first = client_as("superuser").get("/runs/?scope=all&dag=bulk_dag").content.decode()
    assert pager(first) == [(f"?scope=all&amp;dag=bulk_dag&amp;before={ids[49]}", "Older runs")]


def test_history_pager_links_newest_and_older(world: World, client_as: ClientAs) -> None:
    for _ in range(110):
        record_event(Actor(world.users["operator"]), "bulk.test", outcome="succeeded")
    events = AuditEvent.objects.filter(action="bulk.test").order_by("-pk")
    ids = list(events.values_list("pk", flat=True))
    html = client_as("auditor").get(f"/audit/?action=bulk.test&before={ids[49]}")
    assert pager(html.content.decode()) == [
        ("?action=bulk.test", "Newest"),
        (f"?action=bulk.test&amp;before={ids[99]}", "Older events"),
    ]
    first = client_as("auditor").get("/audit/?action=bulk.test").content.decode()
    assert pager(first) == [(f"?action=bulk.test&amp;before={ids[49]}", "Older events")]


PROFILE_SELECT = (
    '<select id="f-profile" name="profile"> <option value="">Every Airflow</option> '
    '<option value="prod" selected>Production</option><option value="staging">Staging</option>'
)


@pytest.mark.parametrize("url", ["/?profile=prod", "/runs/?scope=all&profile=prod"])
def test_profile_select_is_the_same_on_catalog_and_runs(
    world: World, client_as: ClientAs, url: str
) -> None:
    html = " ".join(client_as("superuser").get(url).content.decode().split())
    assert PROFILE_SELECT in html
    assert '<label for="f-profile">Airflow</label>' in html


def test_history_outcome_badges_keep_their_colours(world: World, client_as: ClientAs) -> None:
    for outcome in ("succeeded", "failed", "denied"):
        record_event(Actor(world.users["operator"]), "bulk.test", outcome=outcome)
    html = client_as("auditor").get("/audit/?action=bulk.test").content.decode()
    assert '<span class="state state-success">Succeeded</span>' in html
    assert '<span class="state state-failed">Failed</span>' in html
    assert '<span class="state state-queued">Denied</span>' in html
    event = AuditEvent.objects.get(action="bulk.test", outcome="denied")
    detail = client_as("auditor").get(f"/audit/{event.pk}/").content.decode()
    assert '<dd><span class="state state-queued">Denied</span></dd>' in detail
