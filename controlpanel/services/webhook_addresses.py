"""Where a webhook may point: public addresses only, unless an administrator allows more.

A team admin chooses the webhook address and the worker posts to it, so without this
check they could make the worker reach loopback services, the private network or a cloud's
metadata endpoint (server-side request forgery). The host is resolved and every address
it resolves to is checked when the subscription is saved, and the address actually
connected to is checked again at each send (DNS can change, or answer differently).
``NOTIFY_WEBHOOK_ALLOWED_NETWORKS`` lists networks that are allowed all the same.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud instance metadata (AWS, GCP, Azure, OpenStack; AWS's IPv6 one): named in the refusal.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address) for address in ("169.254.169.254", "fd00:ec2::254")
)


class BlockedAddress(Exception):
    """A webhook host resolved to, or connected to, an address it may not reach."""


def address_kind(address: IPAddress) -> str:
    """Why an address is refused, in words ('a loopback address'), or '' if it is public."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    checks = (
        (address.is_unspecified, "an unspecified address"),
        (address.is_loopback, "a loopback address (this machine)"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (address.is_private, "a private network address"),
        (not address.is_global, "a reserved, non-public address"),
    )
    return next((words for refused, words in checks if refused), "")


def _allowed(address: IPAddress) -> bool:
    networks = [ipaddress.ip_network(net) for net in settings.NOTIFY_WEBHOOK_ALLOWED_NETWORKS]
    return any(address in network for network in networks)


def address_problem(host: str, address: IPAddress) -> str:
    """Why the webhook host may not be reached at ``address``, in plain words, or ''."""
    kind = address_kind(address)
    if not kind or _allowed(address):
        return ""
    where = host if host == str(address) else f"{host} ({address})"
    return (
        f"The webhook host {where} is {kind}: notifications go only to public addresses "
        "(an administrator can allow networks with NOTIFY_WEBHOOK_ALLOWED_NETWORKS)."
    )


def host_problem(host: str, port: int) -> str:
    """Why a webhook host may not be reached, checking every address it resolves to, or ''.

    A name that does not resolve now is not refused here: sending checks again.
    """
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        return address_problem(host, literal)
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return ""
    for *_, sockaddr in found:
        problem = address_problem(host, ipaddress.ip_address(str(sockaddr[0]).split("%")[0]))
        if problem:
            return problem
    return ""


def _check_peer(connection: Any, sock: socket.socket) -> None:
    """Close and refuse a connection that reached an address it may not reach."""
    peer = ipaddress.ip_address(str(sock.getpeername()[0]).split("%")[0])
    problem = address_problem(connection.host, peer)
    if problem:
        sock.close()
        raise BlockedAddress(problem)


class _CheckedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _check_peer(self, sock)
        return sock


class _CheckedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _check_peer(self, sock)
        return sock


class _CheckedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _CheckedHTTPConnection


class _CheckedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


class CheckedAdapter(HTTPAdapter):
    """A requests adapter whose connections check the address they reached before sending.

    Checking the connected socket, not a second lookup, leaves no gap for DNS to change
    between the check and the request.
    """

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _CheckedHTTPPool,
            "https": _CheckedHTTPSPool,
        }
