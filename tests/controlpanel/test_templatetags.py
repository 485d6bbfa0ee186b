"""The permission template tags answer exactly what the permission module answers."""

from __future__ import annotations

import pytest
from django.template import Context, Template
from django.test import RequestFactory

from tests.world import PERSONAS, World

TEMPLATE = Template(
    '{% load panel %}{% may "trigger" dag as t %}{% dag_permissions dag as p %}'
    "{{ t }}|{{ p|join:',' }}"
)
EXPECTED = {
    "superuser": "True|view,trigger,operate",
    "operator": "True|view,trigger",
    "viewer": "False|view",
    "team_admin": "False|view",
    "operate_user": "False|",
    "auditor": "False|",
    "outsider": "False|",
    "anonymous": "False|",
}


@pytest.mark.parametrize("persona", PERSONAS)
def test_template_tags_follow_the_grants(world: World, persona: str) -> None:
    from django.contrib.auth.models import AnonymousUser

    request = RequestFactory().get("/")
    request.user = world.users[persona] or AnonymousUser()
    rendered = TEMPLATE.render(
        Context({"request": request, "dag": world.dag("prod/finance_daily")})
    )
    assert rendered == EXPECTED[persona]
