"""Reversible encryption for the one secret we must be able to read back: an API client's
secret, the HMAC key of request signing (decision: signing).

Fernet (AES-128-CBC + HMAC-SHA256) under keys derived with HKDF-SHA256 from the key
material in TELLUS_ENCRYPTION_KEYS (newest first; SECRET_KEY when unset). A secret is
sealed under the newest key and opened under any of them, so a key is rotated by
putting a new one in front, running `manage.py reseal_client_secrets`, then dropping
the old one. Copies sealed before keys were derived with HKDF (a bare SHA-256 of the
same material) still open, and the re-seal moves them to the new derivation.
"""

import base64
import hashlib
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

_SALT = b"tellus-secret-box"
_INFO = b"api client secrets v2"


def _derived(material: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=_INFO).derive(
        material.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def _before_hkdf(material: str) -> Fernet:
    # Read-only: how copies were sealed until HKDF (kept so an upgrade loses none).
    key = hashlib.sha256(b"tellus-secret-box:" + material.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def key_material() -> tuple[str, ...]:
    return tuple(settings.TELLUS_ENCRYPTION_KEYS) or (settings.SECRET_KEY,)


@cache
def _box(materials: tuple[str, ...]) -> MultiFernet:
    current = [_derived(material) for material in materials]
    return MultiFernet(current + [_before_hkdf(material) for material in materials])


def _current_box() -> MultiFernet:
    return _box(key_material())


def seal(secret: str) -> str:
    """The secret sealed under the newest key."""
    return _current_box().encrypt(secret.encode()).decode()


def unseal(sealed: str) -> str | None:
    """The secret, or None if there is no copy or no configured key opens it."""
    if not sealed:
        return None
    try:
        return _current_box().decrypt(sealed.encode()).decode()
    except InvalidToken:
        return None


def reseal(sealed: str) -> str | None:
    """The same secret sealed under the newest key, or None if no configured key opens it."""
    try:
        return _current_box().rotate(sealed.encode()).decode()
    except InvalidToken:
        return None
