"""Builders for the things tests need: operators with API clients, sites, chargers, console
users, alerts and runbook runs.

Plain functions over the real services (so every object is made the way production makes
it, audited), with defaults that say "an ordinary one". The fixtures in tests/conftest.py
are built on these; a test that needs something special calls a builder with overrides.
"""

import itertools
import json
from datetime import datetime
from functools import cached_property
from typing import Any

from django.test import Client
from django.utils import timezone

from console.web.services.people import create_console_user
from diagnostics.models import Alert, RunbookExecution
from diagnostics.services.runbooks import engine
from fleet.actors import Actor
from fleet.models import ApiClient, Device, Operator, Site
from fleet.services import provisioning

ACME = "Acme Charging"
RIVAL = "Rival Energy"
CONSOLE_PASSWORD = "console-pass-123"

# Serial numbers only need to differ within one test database; a process-wide counter
# keeps them unique however many chargers a test registers.
_serials = itertools.count(1)
_alerts = itertools.count(1)


def _post_json(path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = Client().post(path, json.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.content
    return response.json()


# --- Operators and their API clients --------------------------------------------------------


def operator_client(
    operator: str = ACME, scopes: list[str] | None = None, **options: Any
) -> tuple[ApiClient, str]:
    """An API client of `operator` (created with it if new) and its secret."""
    return provisioning.create_operator_client(
        Actor.platform(), operator, scopes or ["read", "write"], **options
    )


def operator_token(client: ApiClient, secret: str) -> str:
    """A bearer token for the client, issued by the API's own token endpoint."""
    grant = {
        "client_id": client.client_id,
        "client_secret": secret,
        "grant_type": "client_credentials",
    }
    return _post_json("/v1/operator/oauth/token", grant)["access_token"]


class OperatorAccount:
    """An operator as the API sees it: one API client, its secret, and a bearer token
    (issued on first use, so tests that never call the API do not pay for it).

    Indexes and unpacks as the pair most tests want: `client, token = acme`, `acme[0]`.
    """

    def __init__(self, client: ApiClient, secret: str) -> None:
        self.client, self.secret = client, secret

    @classmethod
    def create(cls, operator: str = ACME, scopes: list[str] | None = None) -> "OperatorAccount":
        return cls(*operator_client(operator, scopes))

    @cached_property
    def token(self) -> str:
        return operator_token(self.client, self.secret)

    @property
    def operator(self) -> Operator:
        return self.client.operator

    @property
    def operator_id(self) -> str:
        return self.client.operator_id

    @property
    def name(self) -> str:
        return self.client.operator.name

    def __getitem__(self, index: int) -> Any:
        return (self.client, self.token)[index] if index else self.client

    def __iter__(self):
        return iter((self.client, self.token))


# --- Sites and chargers ---------------------------------------------------------------------


def site(client: ApiClient, name: str = "Depot", **fields: Any) -> Site:
    """A site of the client's operator."""
    return provisioning.create_site(Actor.platform(), client.client_id, name, **fields)


def registration(**overrides: Any) -> dict[str, Any]:
    """Register a charger through the device API; returns its device_id and device_secret."""
    body = {
        "sn": f"SN-TEST-{next(_serials):05d}",
        "model": "TP-DC180",
        "manufacturer": "Tellus Power",
        "firmware_version": "3.1.0",
        **overrides,
    }
    return _post_json("/v1/device/register", body)["data"]


def device_token(registered: dict[str, Any]) -> str:
    """A bearer token for a registered charger, from the device token endpoint."""
    grant = {
        "device_id": registered["device_id"],
        "device_secret": registered["device_secret"],
        "grant_type": "client_credentials",
    }
    return _post_json("/v1/device/token", grant)["access_token"]


def assigned_device(client: ApiClient, on: Site | None = None, **overrides: Any) -> Device:
    """A registered charger placed on a site (a new "Depot" unless given) of the client's
    operator; `overrides` go into the registration (model, firmware_version, sn …)."""
    registered = registration(**overrides)
    on = on or site(client)
    return provisioning.assign_device(Actor.platform(), registered["device_id"], on.site_id)


# --- Console users --------------------------------------------------------------------------


def console_user(username: str, operator: str = ACME, role: str = "viewer"):
    """A console user of the named operator (which must exist) with `role`."""
    user, _ = create_console_user(
        Actor.platform(), username, operator, role, password=CONSOLE_PASSWORD
    )
    return user


# --- Diagnostics ----------------------------------------------------------------------------


def alert(device: Device, at: datetime | None = None, **fields: Any) -> Alert:
    """An open alert on `device` for its current operator and site, seen once at `at`
    (now unless given); `fields` override any column (severity, status, detector …)."""
    n = next(_alerts)
    seen = at or timezone.now()
    values = {
        "alert_id": f"alr_f{n:05d}",
        "operator_id": device.site.operator_id,
        "device": device,
        "site_id": device.site_id,
        "detector": "over_temperature",
        "subject": f"{device.device_id}:{n}",
        "severity": "high",
        "status": "open",
        "title": "Connector too hot",
        "first_seen": seen,
        "last_seen": seen,
        "window_start": seen,
        **fields,
    }
    return Alert.objects.create(**values)


def runbook_run(
    device: Device,
    slug: str = "charger-faulting-on-power-up",
    actor: Actor | None = None,
    **options: Any,
) -> RunbookExecution:
    """A run of the runbook `slug` on `device`, opened at its first step by `actor` (the
    platform unless given). The runbook must be loaded."""
    return engine.start(actor or Actor.platform(), device, slug, **options)
