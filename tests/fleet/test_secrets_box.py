"""Sealed client secrets: HKDF-derived keys, a list of keys newest first, and the re-seal.

Key rotation as an operator does it: put a new key in front of TELLUS_ENCRYPTION_KEYS,
run `reseal_client_secrets`, drop the old key. Signing keeps working throughout.
"""

import base64
import hashlib
import json
from io import StringIO

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import call_command

from fleet.actors import Actor
from fleet.models import ApiClient
from fleet.secrets_box import reseal, seal, unseal
from fleet.services import provisioning

pytestmark = pytest.mark.django_db


def reseal_command() -> dict:
    out = StringIO()
    call_command("reseal_client_secrets", stdout=out)
    return json.loads(out.getvalue())


def test_a_sealed_secret_opens_and_is_not_the_secret(settings):
    settings.TELLUS_ENCRYPTION_KEYS = ["first key material"]
    sealed = seal("sk_hunter2")
    assert "hunter2" not in sealed
    assert unseal(sealed) == "sk_hunter2"


def test_the_key_is_derived_with_hkdf_not_a_bare_hash(settings):
    settings.TELLUS_ENCRYPTION_KEYS = ["material"]
    bare = Fernet(base64.urlsafe_b64encode(hashlib.sha256(b"material").digest()))
    with pytest.raises(InvalidToken):
        bare.decrypt(seal("sk_secret").encode())


def test_any_listed_key_opens_and_the_newest_seals(settings):
    settings.TELLUS_ENCRYPTION_KEYS = ["old"]
    under_old = seal("sk_one")
    settings.TELLUS_ENCRYPTION_KEYS = ["new", "old"]
    assert unseal(under_old) == "sk_one"
    under_new = seal("sk_two")
    settings.TELLUS_ENCRYPTION_KEYS = ["new"]
    assert unseal(under_new) == "sk_two"
    assert unseal(under_old) is None


def test_without_keys_secret_key_is_the_material(settings):
    settings.TELLUS_ENCRYPTION_KEYS = []
    sealed = seal("sk_default")
    settings.TELLUS_ENCRYPTION_KEYS = [settings.SECRET_KEY]
    assert unseal(sealed) == "sk_default"


def test_copies_sealed_before_hkdf_still_open_and_reseal_moves_them(settings):
    settings.TELLUS_ENCRYPTION_KEYS = ["material"]
    legacy_key = hashlib.sha256(b"tellus-secret-box:material").digest()
    legacy = Fernet(base64.urlsafe_b64encode(legacy_key)).encrypt(b"sk_legacy").decode()
    assert unseal(legacy) == "sk_legacy"
    moved = reseal(legacy)
    assert moved != legacy and unseal(moved) == "sk_legacy"


def test_rotating_the_key_with_the_reseal_command_keeps_every_client_signing(settings):
    settings.TELLUS_ENCRYPTION_KEYS = ["2025 key"]
    client, secret = provisioning.create_operator_client(
        Actor.platform(), "Acme", ["read", "write"], require_signed_writes=True
    )
    version = ApiClient.objects.get(pk=client.pk).secret_version

    settings.TELLUS_ENCRYPTION_KEYS = ["2026 key", "2025 key"]
    assert reseal_command() == {"resealed": 1, "unreadable": []}

    settings.TELLUS_ENCRYPTION_KEYS = ["2026 key"]  # the old key is gone
    stored = ApiClient.objects.get(pk=client.pk)
    assert unseal(stored.secret_sealed) == secret
    assert stored.secret_version == version  # tokens issued before stay valid


def test_the_reseal_lists_secrets_no_key_opens_and_leaves_them(settings):
    settings.TELLUS_ENCRYPTION_KEYS = ["lost key"]
    client, _ = provisioning.create_operator_client(Actor.platform(), "Acme", ["read"])
    before = ApiClient.objects.get(pk=client.pk).secret_sealed
    settings.TELLUS_ENCRYPTION_KEYS = ["unrelated key"]
    assert reseal_command() == {"resealed": 0, "unreadable": [client.client_id]}
    assert ApiClient.objects.get(pk=client.pk).secret_sealed == before
