"""Sign-in with a password checked by the organisation's LDAP or Active Directory.

django-auth-ldap does the protocol: it binds with the service account, finds the user's DN
with the user search, binds as that DN with the password typed, and finds the user's groups
(``groupOfNames`` through a group search). This backend builds its configuration from the
panel's ``LDAP_*`` settings and, instead of letting it create or update Django users, hands
the DN and groups to ``services.directory`` - the same account creation and team and role
reconciliation as OpenID Connect, audited with the source "directory".

A wrong password answers None, like any backend, so Django records the failed login and
django-axes counts it. A refusal by the panel (an account disabled here, a username that
belongs to an account made by hand) stops the sign-in with its sentence for the form.
"""

from __future__ import annotations

from typing import Any

import ldap
from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest
from django_auth_ldap.backend import LDAPBackend, _LDAPUser
from django_auth_ldap.config import GroupOfNamesType, LDAPSearch, LDAPSettings

from controlpanel.audit import client_ip
from controlpanel.permissions import ActionDenied
from controlpanel.services.directory import DirectoryIdentity, sign_in_from_directory
from controlpanel.signals import DIRECTORY_PROVIDER_ATTRIBUTE, DIRECTORY_REFUSAL_ATTRIBUTE

PROVIDER = "ldap"
BACKEND = "controlpanel.ldap_backend.DirectoryLDAPBackend"
# Set on the request when the panel refused a sign-in the directory accepted: the login
# form shows it instead of "wrong password", and the refusal is in the audit trail already.
REFUSAL_ATTRIBUTE = DIRECTORY_REFUSAL_ATTRIBUTE


def is_enabled() -> bool:
    """True when LDAP sign-in is configured (``LDAP_SERVER_URI``)."""
    return bool(settings.LDAP_SERVER_URI)


def connection_options() -> dict[Any, Any]:
    """python-ldap options: timeouts, the CA to trust, no AD referral chasing."""
    timeout = settings.LDAP_TIMEOUT_SECONDS
    options: dict[Any, Any] = {
        ldap.OPT_NETWORK_TIMEOUT: timeout,
        ldap.OPT_TIMEOUT: timeout,
        ldap.OPT_REFERRALS: 0,  # Active Directory's referrals would need another bind
    }
    if settings.LDAP_CA_CERT_FILE:
        options[ldap.OPT_X_TLS_CACERTFILE] = settings.LDAP_CA_CERT_FILE
        options[ldap.OPT_X_TLS_REQUIRE_CERT] = ldap.OPT_X_TLS_DEMAND
        options[ldap.OPT_X_TLS_NEWCTX] = 0  # last: applies the TLS options above
    return options


def ldap_settings() -> LDAPSettings:
    """django-auth-ldap's configuration, from the panel's ``LDAP_*`` settings."""
    user_search = LDAPSearch(
        settings.LDAP_USER_SEARCH_BASE,
        ldap.SCOPE_SUBTREE,
        settings.LDAP_USER_FILTER,
        ["*", "memberOf"],  # memberOf is operational on OpenLDAP: asked for by name
    )
    group_of_names = settings.LDAP_GROUP_TYPE == "groupOfNames"
    ours = {
        "SERVER_URI": settings.LDAP_SERVER_URI,
        "BIND_DN": settings.LDAP_BIND_DN,
        "BIND_PASSWORD": settings.LDAP_BIND_PASSWORD,
        "START_TLS": settings.LDAP_START_TLS,
        "CONNECTION_OPTIONS": connection_options(),
        "USER_SEARCH": user_search,
        "GROUP_SEARCH": LDAPSearch(
            settings.LDAP_GROUP_SEARCH_BASE, ldap.SCOPE_SUBTREE, "(objectClass=groupOfNames)"
        )
        if group_of_names
        else None,
        "GROUP_TYPE": GroupOfNamesType() if group_of_names else None,
        # Searches after the password check use the service account, not the user.
        "BIND_AS_AUTHENTICATING_USER": False,
        "ALWAYS_UPDATE_USER": False,  # services.directory writes the user, not django-auth-ldap
    }
    # A prefix no setting uses: only the values above count, whatever AUTH_LDAP_* says.
    return LDAPSettings("PANEL_LDAP_UNUSED_", {**LDAPSettings.defaults, **ours})


def groups_of(ldap_user: _LDAPUser) -> tuple[str, ...]:
    """The user's group DNs and names (cn), for the teams and roles mapped to either."""
    if settings.LDAP_GROUP_TYPE == "memberOf":
        dns = sorted(ldap_user.attrs.get("memberof", []))
        names = sorted(ldap.dn.str2dn(dn)[0][0][1] for dn in dns if dn)
    else:
        dns = sorted(ldap_user.group_dns)
        names = sorted(ldap_user.group_names)
    return (*dns, *names)


def identity_of(ldap_user: _LDAPUser, typed: str) -> DirectoryIdentity:
    """The directory identity of a user the directory just authenticated.

    The username is the directory's (``LDAP_USERNAME_ATTRIBUTE``): "DANA" typed at the
    form still makes the panel user "dana", as the directory spells it.
    """
    username = ldap_user.attrs.get(settings.LDAP_USERNAME_ATTRIBUTE, [typed])[0]
    email = ldap_user.attrs.get("mail", [""])[0]
    return DirectoryIdentity(
        provider=PROVIDER,
        subject=ldap_user.dn,
        username=username,
        email=email,
        groups=groups_of(ldap_user),
    )


class DirectoryLDAPBackend(LDAPBackend):
    """django-auth-ldap, configured from ``LDAP_*``, creating users via services.directory."""

    _settings: LDAPSettings | None = None

    @property
    def settings(self) -> LDAPSettings:
        """The configuration built from the panel's settings (at each sign-in: tests change it)."""
        if self._settings is None:
            self._settings = ldap_settings()
        return self._settings

    @settings.setter
    def settings(self, value: LDAPSettings) -> None:
        self._settings = value

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        """The panel user for a directory username and password, or None (not ours / wrong)."""
        if not is_enabled():
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)

    def get_user(self, user_id: int) -> Any:
        """The session's user, as Django's model backend loads it (None once disabled)."""
        return ModelBackend().get_user(user_id)

    def has_perm(self, user: Any, perm: str, obj: Any = None) -> bool:
        """No Django permissions from the directory: the panel's own rules decide access."""
        return False

    def has_module_perms(self, user: Any, app_label: str) -> bool:
        """No Django permissions from the directory (see ``has_perm``)."""
        return False

    def get_all_permissions(self, user: Any, obj: Any = None) -> set[str]:
        """No Django permissions from the directory (see ``has_perm``)."""
        return set()

    def get_group_permissions(self, user: Any, obj: Any = None) -> set[str]:
        """No Django permissions from the directory (see ``has_perm``)."""
        return set()

    def authenticate_ldap_user(self, ldap_user: _LDAPUser, password: str) -> Any:
        """Check the password in the directory; sync the user; refusals stop the sign-in."""
        request = ldap_user._request
        try:
            user = ldap_user.authenticate(password)
        except (ActionDenied, ValidationError) as exc:  # recorded by services.directory
            message = exc.message if isinstance(exc, ActionDenied) else " ".join(exc.messages)
            if request is not None:
                setattr(request, REFUSAL_ATTRIBUTE, message)
            raise PermissionDenied(message) from exc
        if user is not None and request is not None:
            setattr(request, DIRECTORY_PROVIDER_ATTRIBUTE, PROVIDER)  # for auth.login's record
        return user

    def get_or_build_user(self, username: str, ldap_user: _LDAPUser) -> tuple[Any, bool]:
        """The panel user, made or synced by services.directory (never built here)."""
        request = ldap_user._request
        ip_address = client_ip(request) if request is not None else None
        user, _changes = sign_in_from_directory(
            identity_of(ldap_user, username), ip_address=ip_address
        )
        return user, False
