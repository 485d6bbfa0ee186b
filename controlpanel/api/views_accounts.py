"""``/api/me/``, ``/api/users/`` and ``/api/tokens/``."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from controlpanel.api import serializers as s
from controlpanel.api.base import ApiView
from controlpanel.permissions import Access, require
from controlpanel.selectors.users import (
    manageable_token,
    memberships_by_team,
    user_named,
    users_by_username,
    visible_tokens,
)
from controlpanel.services import tokens, users


def _user_payload(user: Any) -> dict[str, Any]:
    return {
        "id": user.pk,
        "username": user.get_username(),
        "email": user.email,
        "is_auditor": Access(user).is_auditor,
        "is_active": user.is_active,
        "is_superuser": user.is_superuser,
        "date_joined": user.date_joined,
        "last_login": user.last_login,
    }


class MeView(ApiView):
    """Who the caller is: teams and roles, audit reviewer, panel admin."""

    serializer_class = s.MeSerializer

    @extend_schema(responses=s.MeSerializer, operation_id="me")
    def get(self, request: Request) -> Response:
        access, user = self.access, self.me()
        teams = [
            {"slug": m.team.slug, "name": m.team.name, "role": m.role}
            for m in memberships_by_team(user)
        ]
        data = {
            "username": user.get_username(),
            "email": user.email,
            "teams": teams,
            "is_auditor": access.is_auditor,
            "is_superuser": access.is_superuser,
        }
        return Response(s.MeSerializer(data).data)


class UsersView(ApiView):
    """List users and create one (panel admins only)."""

    list_view = True
    serializer_class = s.UserSerializer

    def get(self, request: Request) -> Response:
        require(self.access.is_superuser, users.ONLY_ADMINS)
        page = self.paginate_queryset(users_by_username())
        return self.get_paginated_response([_user_payload(u) for u in page or []])

    def post(self, request: Request) -> Response:
        actor = self.actor()
        if not self.access.is_superuser:
            users.ensure_may_manage_users(actor, "user.create", dict(request.data))
        body = s.UserSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        user = users.create_user(
            actor,
            username=body.validated_data["username"],
            email=body.validated_data["email"],
            password=body.validated_data.get("password", ""),
            is_auditor=body.validated_data["is_auditor"],
        )
        return Response(_user_payload(user), status=status.HTTP_201_CREATED)


class UserView(ApiView):
    """One user: read, change (email, password, is_auditor, is_active), deactivate."""

    serializer_class = s.UserSerializer

    def _user(self, username: str) -> Any:
        require(self.access.is_superuser, users.ONLY_ADMINS)
        user = user_named(username)
        if user is None:
            raise Http404("No such user.")
        return user

    def get(self, request: Request, username: str) -> Response:
        return Response(_user_payload(self._user(username)))

    @extend_schema(request=s.UserUpdateSerializer, responses=s.UserSerializer)
    def patch(self, request: Request, username: str) -> Response:
        actor = self.actor()
        if not self.access.is_superuser:
            users.ensure_may_manage_users(actor, "user.update", {"user": username})
        user = self._user(username)
        body = s.UserUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        users.update_user(actor, user, **body.validated_data)
        return Response(_user_payload(user))

    def delete(self, request: Request, username: str) -> Response:
        actor = self.actor()
        if not self.access.is_superuser:
            users.ensure_may_manage_users(actor, "user.deactivate", {"user": username})
        user = users.deactivate_user(actor, self._user(username))
        return Response(_user_payload(user))


class TokensView(ApiView):
    """The caller's API tokens (every token for panel admins); create one (shown once)."""

    list_view = True
    serializer_class = s.TokenSerializer

    def get(self, request: Request) -> Response:
        return self.paginated(visible_tokens(self.access), s.TokenSerializer)

    @extend_schema(request=s.TokenCreateSerializer, responses={201: s.NewTokenSerializer})
    def post(self, request: Request) -> Response:
        body = s.TokenCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        owner = self.me()
        username = body.validated_data.get("username")
        if username and username != request.user.get_username():
            owner = user_named(username)
            if owner is None:
                raise serializers.ValidationError({"username": ["There is no such user."]})
        try:
            token, plaintext = tokens.create_token(
                self.actor(),
                owner,
                body.validated_data["name"],
                expires_days=body.validated_data["expires_days"],
                read_only=body.validated_data["read_only"],
            )
        except ValueError as exc:
            raise serializers.ValidationError({"expires_days": [str(exc)]}) from None
        data = {**s.TokenSerializer(token).data, "token": plaintext}
        return Response(data, status=status.HTTP_201_CREATED)


class TokenView(ApiView):
    """One token: read it, or revoke it (DELETE)."""

    serializer_class = s.TokenSerializer

    def get(self, request: Request, token_id: int) -> Response:
        return Response(s.TokenSerializer(manageable_token(self.access, token_id)).data)

    def delete(self, request: Request, token_id: int) -> Response:
        token = tokens.revoke_token(self.actor(), manageable_token(self.access, token_id))
        return Response(s.TokenSerializer(token).data)
