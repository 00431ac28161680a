"""Reversible encryption for the one secret we must be able to read back: an API client's secret,
which is the HMAC key of request signing (decision: signing). Fernet (AES-128-CBC + HMAC-SHA256)
with a key derived from SECRET_KEY, or TELLUS_ENCRYPTION_KEY when set; changing that key makes
stored copies unreadable until the next rotation."""

import base64
import hashlib
import os

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


def _fernet() -> Fernet:
    root = os.environ.get("TELLUS_ENCRYPTION_KEY") or settings.SECRET_KEY
    key = hashlib.sha256(b"tellus-secret-box:" + root.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def unseal(sealed: str) -> str | None:
    """The secret, or None if there is no copy or it was sealed under another key."""
    if not sealed:
        return None
    try:
        return _fernet().decrypt(sealed.encode()).decode()
    except InvalidToken:
        return None
