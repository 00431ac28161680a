"""POST /v1/device/register and POST /v1/device/token."""

import json
from datetime import timedelta
from ipaddress import ip_network

import pytest
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone

from fleet.actors import Actor
from fleet.models import Device
from fleet.services import provisioning

pytestmark = pytest.mark.django_db

REGISTER = "/v1/device/register"
TOKEN = "/v1/device/token"
CHARGER = {
    "sn": "SN1234567890",
    "model": "TP-DC180",
    "manufacturer": "Tellus Power",
    "firmware_version": "3.1.0",
    "mac": "00:1A:2B:3C:4D:5E",
}


def token_request(registration: dict, **overrides) -> dict:
    return {
        "device_id": registration["device_id"],
        "device_secret": registration["device_secret"],
        "grant_type": "client_credentials",
        **overrides,
    }


def test_registration_returns_id_secret_and_secret_lifetime(api, settings):
    response = api.post(REGISTER, CHARGER)
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == 0 and body["message"] == "success"
    data = body["data"]
    assert data["device_id"].startswith("dvc_")
    assert data["device_secret"]
    assert data["expires_in"] == settings.TELLUS_DEVICE_SECRET_TTL_SECONDS

    device = Device.objects.get(device_id=data["device_id"])
    assert (device.sn, device.model, device.manufacturer, device.firmware_version) == (
        "SN1234567890",
        "TP-DC180",
        "Tellus Power",
        "3.1.0",
    )
    assert device.mac == "00:1A:2B:3C:4D:5E"
    assert device.site is None
    assert data["device_secret"] not in device.secret_hash


def test_registration_without_mac_is_fine(api):
    charger = {k: v for k, v in CHARGER.items() if k != "mac"}
    assert api.post(REGISTER, charger).status_code == 200


@pytest.mark.parametrize(
    ("sent", "stored"),
    [("001a2b3c4d5e", "00:1A:2B:3C:4D:5E"), ("00-1a-2b-3c-4d-5e", "00:1A:2B:3C:4D:5E")],
)
def test_mac_spellings_are_normalised(api, sent, stored):
    device_id = api.post(REGISTER, {**CHARGER, "mac": sent}).json()["data"]["device_id"]
    assert Device.objects.get(device_id=device_id).mac == stored


@pytest.mark.parametrize("mac", ["00:1A:2B:3C:4D", "zz:1A:2B:3C:4D:5E", "00:1A-2B:3C:4D:5E"])
def test_malformed_mac_is_1001(api, mac):
    response = api.post(REGISTER, {**CHARGER, "mac": mac})
    assert response.status_code == 400
    assert response.json()["details"]["field"] == "mac"
    assert not Device.objects.exists()


@pytest.mark.parametrize("field", ["sn", "model", "manufacturer", "firmware_version"])
def test_each_required_field_is_1002(api, field):
    response = api.post(REGISTER, {k: v for k, v in CHARGER.items() if k != field})
    assert response.status_code == 400
    assert response.json() == {
        "code": 1002,
        "message": f"Parameter '{field}' is required",
        "data": None,
        "details": {"field": field},
    }


def test_blank_serial_number_is_rejected(api):
    response = api.post(REGISTER, {**CHARGER, "sn": "   "})
    assert response.status_code == 400
    assert response.json()["details"]["field"] == "sn"


def test_second_registration_of_a_serial_is_409_and_changes_nothing(api):
    first = api.post(REGISTER, CHARGER).json()["data"]
    response = api.post(REGISTER, {**CHARGER, "model": "TP-DC360"})
    assert response.status_code == 409
    assert response.json()["code"] == 4001
    assert Device.objects.count() == 1
    assert Device.objects.get().model == "TP-DC180"
    assert Device.objects.get().device_id == first["device_id"]


def test_a_case_variant_of_a_registered_serial_gets_the_same_409(api):
    """Registration is unauthenticated: `sn1234567890` must not pass for another charger
    than `SN1234567890`, and is told exactly what an exact duplicate is told."""
    first = api.post(REGISTER, CHARGER).json()["data"]
    exact = api.post(REGISTER, CHARGER)
    for variant in ("sn1234567890", "Sn1234567890"):
        response = api.post(REGISTER, {**CHARGER, "sn": variant})
        assert response.status_code == exact.status_code == 409
        assert response.json() == {
            **exact.json(),
            "message": exact.json()["message"].replace(CHARGER["sn"], variant),
            "details": {"field": "sn", "value": variant},
        }
    assert list(Device.objects.values_list("device_id", "sn")) == [
        (first["device_id"], "SN1234567890")
    ]


def test_the_database_refuses_a_case_variant_serial_whatever_the_code_path():
    provisioning.register_device("SN-ABC-1", "TP-DC180", "Tellus Power", "3.1.0")
    with pytest.raises(IntegrityError), transaction.atomic():
        Device.objects.create(
            sn="sn-abc-1",
            model="TP-DC180",
            manufacturer="Tellus Power",
            firmware_version="3.1.0",
            secret_hash="x",
            secret_expires_at=timezone.now(),
        )


def test_device_token_exchange(api, register_device):
    registration = register_device()
    response = api.post(TOKEN, token_request(registration))
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 86400
    assert body["data"]["access_token"] == body["access_token"]


def test_wrong_device_secret_is_401_2001(api, register_device):
    registration = register_device()
    response = api.post(TOKEN, token_request(registration, device_secret="sk_wrong"))
    assert response.status_code == 401
    assert response.json()["code"] == 2001


def test_unknown_device_is_401_2001(api):
    response = api.post(
        TOKEN, {"device_id": "dvc_nope", "device_secret": "x", "grant_type": "client_credentials"}
    )
    assert response.status_code == 401
    assert response.json()["code"] == 2001


def test_expired_device_secret_gets_no_token(api, register_device):
    registration = register_device()
    Device.objects.filter(device_id=registration["device_id"]).update(
        secret_expires_at=timezone.now() - timedelta(seconds=1)
    )
    response = api.post(TOKEN, token_request(registration))
    assert response.status_code == 401
    assert response.json()["code"] == 2001


def test_credential_reset_issues_a_working_secret_and_revokes_the_old(
    api, register_device, device_token
):
    registration = register_device()
    _device, new_secret = provisioning.reset_device_credentials(
        Actor.platform(), registration["device_id"]
    )
    assert api.post(TOKEN, token_request(registration)).status_code == 401
    response = api.post(TOKEN, token_request(registration, device_secret=new_secret))
    assert response.status_code == 200


def test_behind_a_trusted_proxy_each_charger_registers_in_its_own_bucket(settings):
    settings.TELLUS_TRUSTED_PROXIES = (ip_network("10.0.0.0/8"),)
    settings.TELLUS_RATE_DEVICE_OTHER = (2, 60)

    def register(serial: str, charger_address: str):
        return Client().post(
            REGISTER,
            json.dumps({**CHARGER, "sn": serial, "mac": None}),
            content_type="application/json",
            REMOTE_ADDR="10.0.0.5",  # every request arrives through the proxy
            HTTP_X_FORWARDED_FOR=charger_address,
        )

    statuses = [register(f"SN-A-{n}", "198.51.100.1").status_code for n in range(3)]
    assert statuses == [200, 200, 429]
    assert register("SN-B-1", "198.51.100.2").status_code == 200
    # Without the setting the header is ignored: the proxy's bucket is the one counted.
    settings.TELLUS_TRUSTED_PROXIES = ()
    assert register("SN-B-2", "198.51.100.3").status_code == 200
    assert register("SN-B-3", "198.51.100.4").status_code == 200
    assert register("SN-B-4", "198.51.100.5").status_code == 429
