"""Secrets for API clients and chargers: generated here, stored only as a digest.

The secrets are 256-bit random strings, so a single SHA-256 is enough to make the
stored value useless to a thief; slow password hashing only matters for secrets a
human chose.
"""

import hashlib
import hmac
import secrets

_SCHEME = "sha256$"


def new_secret() -> str:
    return "sk_" + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return _SCHEME + hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    """Constant-time comparison of a presented secret with the stored digest."""
    if not stored_hash.startswith(_SCHEME):
        return False
    return hmac.compare_digest(hash_secret(secret).encode(), stored_hash.encode())
