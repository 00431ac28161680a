"""Bearer tokens: HS256 JWTs, so that checking one needs no database query.

A token names its subject (an API client or a device), its kind, the scopes it
carries and the credential version it was issued under; bumping that version on the
subject (secret rotation, credential reset) invalidates every earlier token.
"""

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

import jwt
from django.conf import settings

from fleet.errors import NotAuthenticated, TokenExpired

ISSUER = "tellus"
OPERATOR = "operator"
DEVICE = "device"
_ALGORITHM = "HS256"


def _signing_key() -> bytes:
    # Derived, so the raw SECRET_KEY (also used for sessions) never signs tokens itself.
    return hmac.new(settings.SECRET_KEY.encode(), b"tellus-bearer-token", hashlib.sha256).digest()


@dataclass(frozen=True)
class TokenClaims:
    kind: str
    subject: str
    version: int
    scopes: tuple[str, ...]
    expires_at: int
    operator_id: str = ""


def encode_token(
    kind: str,
    subject: str,
    version: int,
    scopes: list[str] | None = None,
    operator_id: str = "",
) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "typ": kind,
        "sub": subject,
        "ver": version,
        "scp": list(scopes or []),
        "iat": now,
        "exp": now + settings.TELLUS_TOKEN_TTL_SECONDS,
        "jti": secrets.token_hex(8),
    }
    if operator_id:
        claims["op"] = operator_id
    return jwt.encode(claims, _signing_key(), algorithm=_ALGORITHM)


# Verified tokens, so a charger's repeated requests skip the signature check. Keyed by
# the token and the signing key; expiry is still checked on every use.
_verified: dict[tuple[bytes, str], TokenClaims] = {}
_VERIFIED_MAX = 20_000


def decode_token(token: str, expected_kind: str) -> TokenClaims:
    """Check signature, expiry and kind; raises NotAuthenticated or TokenExpired."""
    key = _signing_key()
    claims = _verified.get((key, token))
    if claims is None:
        claims = _decode(token, key)
        if len(_verified) >= _VERIFIED_MAX:
            _verified.clear()
        _verified[(key, token)] = claims
    if claims.expires_at <= time.time():
        raise TokenExpired()
    if claims.kind != expected_kind:
        raise NotAuthenticated("Token is not valid for this API")
    return claims


def _decode(token: str, key: bytes) -> TokenClaims:
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[_ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "typ", "ver"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenExpired() from exc
    except jwt.PyJWTError as exc:
        raise NotAuthenticated() from exc
    scopes = claims.get("scp") or []
    if not isinstance(scopes, list) or not isinstance(claims.get("ver"), int):
        raise NotAuthenticated()
    return TokenClaims(
        kind=claims["typ"],
        subject=str(claims["sub"]),
        version=claims["ver"],
        scopes=tuple(str(s) for s in scopes),
        expires_at=int(claims["exp"]),
        operator_id=str(claims.get("op", "")),
    )
