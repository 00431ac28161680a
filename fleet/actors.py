"""Who changes data: one Actor, built once at the edge (API request, console request,
management command, the platform itself) and handed to every service that changes data.

Its `label` is what the audit trail, alert history and runbook runs store: existing rows
and audit-log filters depend on these exact strings.
"""

import getpass
from dataclasses import dataclass
from ipaddress import ip_address
from typing import Any, Literal, Protocol

from django.conf import settings
from django.http import HttpRequest

Kind = Literal["client", "user", "cli", "platform"]


class ClientIdentity(Protocol):
    """An API client as far as an actor cares: an OperatorPrincipal or an ApiClient."""

    client_id: str
    operator_id: str


@dataclass(frozen=True)
class Actor:
    """Who acts, for which operator (None: platform-wide) and from which address."""

    kind: Kind
    operator_id: str | None = None
    client_id: str | None = None
    user_id: int | None = None
    username: str | None = None  # the console user's name, or the OS user of a `cli` actor
    ip: str | None = None

    @classmethod
    def for_client(cls, client: ClientIdentity, ip: str | None = None) -> "Actor":
        return cls("client", operator_id=client.operator_id, client_id=client.client_id, ip=ip)

    @classmethod
    def for_user(cls, user, operator_id: str | None, ip: str | None = None) -> "Actor":
        """A signed-in person; `operator_id` is whom they work for (None: platform staff)."""
        return cls(
            "user", operator_id=operator_id, user_id=user.pk, username=user.get_username(), ip=ip
        )

    @classmethod
    def cli(cls) -> "Actor":
        """Whoever runs a management command, by their OS login name."""
        try:
            name = getpass.getuser()
        except (KeyError, OSError):  # no login name in a bare container
            name = "unknown"
        return cls("cli", username=name)

    @classmethod
    def platform(cls, operator_id: str | None = None) -> "Actor":
        """The platform itself (sweeps, code paths no person triggered)."""
        return cls("platform", operator_id=operator_id)

    @property
    def label(self) -> str:
        """`client:<id>`, `user:<username>`, `cli:<os user>` or `platform`."""
        if self.kind == "client":
            return f"client:{self.client_id}"
        if self.kind in ("user", "cli"):
            return f"{self.kind}:{self.username}"
        return "platform"

    def command_fields(self) -> dict[str, Any]:
        """The issuer columns of a Command or Control."""
        return {
            "operator_id": self.operator_id,
            "issued_by_client_id": self.client_id,
            "issued_by_user_id": self.user_id,
            "issued_from": self.ip,
        }


def client_address(peer: str | None, forwarded_for: str | None) -> str | None:
    """The address of whoever called us. That is the connection's peer, unless the peer
    is one of TELLUS_TRUSTED_PROXIES: then the right-most X-Forwarded-For entry that is
    not itself a trusted proxy (entries further left were written by the caller and
    prove nothing)."""
    proxies = settings.TELLUS_TRUSTED_PROXIES
    if not peer or not proxies or not forwarded_for or not _is_proxy(peer, proxies):
        return peer or None
    nearest = peer
    for hop in reversed(forwarded_for.split(",")[-_MAX_HOPS:]):
        try:
            address = ip_address(hop.strip())
        except ValueError:
            return nearest  # a garbled chain: believe no further than the last proxy
        if not _is_proxy(str(address), proxies):
            return str(address)
        nearest = str(address)
    return nearest


_MAX_HOPS = 16


def _is_proxy(address: str, proxies) -> bool:
    try:
        parsed = ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in proxies)


def request_ip(request: HttpRequest | None) -> str | None:
    """The address a request came from, as every audited path and rate limit reads it."""
    if request is None:
        return None
    return client_address(request.META.get("REMOTE_ADDR"), request.META.get("HTTP_X_FORWARDED_FOR"))


def actor_from_request(request: HttpRequest) -> Actor:
    """The API client of an authenticated operator API request (`request.auth`)."""
    return Actor.for_client(request.auth, request_ip(request))
