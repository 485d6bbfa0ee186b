"""factory_boy factories for the panel's models."""

from __future__ import annotations

from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from controlpanel.models import AirflowProfile, Dag, DagGrant, Run, Team, TeamMembership

PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory[Any]):
    """A user who can log in with ``PASSWORD``."""

    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.invalid")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def saved(obj: Any, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create:
            obj.save()


class ProfileFactory(factory.django.DjangoModelFactory[AirflowProfile]):
    """A basic-auth https profile with a stored (encrypted) password."""

    class Meta:
        model = AirflowProfile
        django_get_or_create = ("slug",)
        skip_postgeneration_save = True

    name = factory.LazyAttribute(lambda p: p.slug.replace("-", " ").title())
    slug = factory.Sequence(lambda n: f"airflow-{n}")
    base_url = factory.LazyAttribute(lambda p: f"https://{p.slug}.example.invalid")
    auth_type = AirflowProfile.AuthType.BASIC
    username = "panel"
    catalog_synced_at = factory.LazyFunction(timezone.now)  # its DAG list was read

    @factory.post_generation
    def secret(obj: AirflowProfile, create: bool, extracted: Any, **kwargs: Any) -> None:
        obj.set_secret(extracted if extracted is not None else "airflow-password")
        if create:
            obj.save()


class DagFactory(factory.django.DjangoModelFactory[Dag]):
    """A catalog DAG."""

    class Meta:
        model = Dag
        django_get_or_create = ("profile", "dag_id")

    profile = factory.SubFactory(ProfileFactory)
    dag_id = factory.Sequence(lambda n: f"dag_{n}")
    display_name = factory.LazyAttribute(lambda d: d.dag_id.replace("_", " ").title())
    tags: Any = factory.LazyFunction(list)


class TeamFactory(factory.django.DjangoModelFactory[Team]):
    """A team."""

    class Meta:
        model = Team
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"team-{n}")
    name = factory.LazyAttribute(lambda t: t.slug.replace("-", " ").title())


class MembershipFactory(factory.django.DjangoModelFactory[TeamMembership]):
    """A user's membership of a team."""

    class Meta:
        model = TeamMembership

    team = factory.SubFactory(TeamFactory)
    user = factory.SubFactory(UserFactory)
    role = TeamMembership.Role.MEMBER


class GrantFactory(factory.django.DjangoModelFactory[DagGrant]):
    """A grant of a team on a profile's DAGs."""

    class Meta:
        model = DagGrant

    team = factory.SubFactory(TeamFactory)
    profile = factory.SubFactory(ProfileFactory)
    level = "view"


class RunFactory(factory.django.DjangoModelFactory[Run]):
    """A tracked run."""

    class Meta:
        model = Run

    profile = factory.SubFactory(ProfileFactory)
    dag_id = "dag_0"
    dag_run_id = factory.Sequence(lambda n: f"panel__run_{n}")
    state = "queued"
