"""Optional HMAC-SHA256 request signing for operator clients (decision: signing).

`X-Signature` is the lowercase hex HMAC-SHA256, keyed with the client secret, of
METHOD + PATH (with `/v1` and the query string, exactly as sent: the API passes the raw
request target, percent-encoding untouched) + TIMESTAMP + BODY, concatenated with no
separators; `X-Timestamp` is Unix seconds or ISO 8601 with a zone, within
TELLUS_CLOCK_SKEW_SECONDS of the server's clock. A signature is accepted once: a replay
inside the window is refused (remembered in the database, not in Redis). Failures are 401/2001.
"""

import hashlib
import hmac
import time
from datetime import UTC, datetime

from django.conf import settings
from django.db import IntegrityError, transaction

from fleet.errors import NotAuthenticated
from fleet.models import ApiClient, UsedSignature
from fleet.secrets_box import unseal

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def _seconds(timestamp: str) -> float:
    text = timestamp.strip()
    # ASCII only: str.isdigit() is also true for "²" or "٣", which float() cannot read.
    if text.isascii() and text.isdigit():
        return float(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise NotAuthenticated("X-Timestamp must be Unix seconds or ISO 8601 with a zone")
    return moment.timestamp()


def signature_for(secret: str, method: str, path: str, timestamp: str, body: bytes) -> str:
    message = f"{method.upper()}{path}{timestamp}".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify_signature(
    client_id: str,
    method: str,
    path: str,
    body: bytes,
    signature: str | None,
    timestamp: str | None,
) -> bool:
    """True for a valid signature, False when none was sent; raises on a bad one, and
    when the client requires signatures on writes and this write has none."""
    if not signature:
        if (
            method.upper() in WRITE_METHODS
            and ApiClient.objects.filter(client_id=client_id, require_signed_writes=True).exists()
        ):
            raise NotAuthenticated("This client must sign write requests (X-Signature)")
        return False
    if not timestamp:
        raise NotAuthenticated("X-Timestamp is required with X-Signature")
    skew = settings.TELLUS_CLOCK_SKEW_SECONDS
    if abs(time.time() - _seconds(timestamp)) > skew:
        raise NotAuthenticated(f"X-Timestamp is more than {skew} s away from the server's clock")
    sealed = (
        ApiClient.objects.filter(client_id=client_id)
        .values_list("secret_sealed", flat=True)
        .first()
    )
    secret = unseal(sealed or "")
    if secret is None:
        raise NotAuthenticated("Signing is not set up for this client; rotate its secret")
    expected = signature_for(secret, method, path, timestamp, body)
    if not hmac.compare_digest(expected, signature.strip().lower()):
        raise NotAuthenticated("Invalid request signature")
    if not _first_use(client_id, expected, expires_at=time.time() + 2 * skew + 1):
        raise NotAuthenticated("Replayed request: this signature was already used")
    return True


def _first_use(client_id: str, signature: str, expires_at: float) -> bool:
    try:
        with transaction.atomic():
            UsedSignature.objects.create(
                client_id=client_id,
                signature=signature,
                expires_at=datetime.fromtimestamp(expires_at, UTC),
            )
    except IntegrityError:
        return False
    return True


def forget_expired_signatures(now: datetime) -> int:
    """Drop used signatures whose timestamps can no longer pass the skew check (sweep)."""
    deleted, _ = UsedSignature.objects.filter(expires_at__lt=now).delete()
    return deleted
