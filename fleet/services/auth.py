"""Issuing and checking bearer tokens for API clients and chargers."""

from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from fleet import tokens
from fleet.credentials import hash_secret, secret_matches
from fleet.errors import NotAuthenticated, PermissionDenied
from fleet.models import ApiClient, Device
from fleet.services import credential_versions

# Compared against when the id is unknown, so a miss costs the same as a wrong secret.
_DUMMY_HASH = hash_secret("no-such-credential")
_REVOKED = 0


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int
    token_type: str = "Bearer"

    def as_dict(self) -> dict:
        return {
            "access_token": self.access_token,
            "token_type": self.token_type,
            "expires_in": self.expires_in,
        }


@dataclass(frozen=True)
class OperatorPrincipal:
    client_id: str
    operator_id: str
    scopes: tuple[str, ...]
    expires_at: int = 0
    version: int = 0  # the credential version the token was issued under

    def require_scope(self, scope: str) -> None:
        if scope not in self.scopes:
            raise PermissionDenied(f"This client lacks the '{scope}' scope")


@dataclass(frozen=True)
class DevicePrincipal:
    device_id: str


def publish_credential_version(kind: str, subject: str, version: int) -> None:
    """Tell every verifier the subject's current credential version (0 = revoked)."""
    credential_versions.publish(kind, subject, version)


# What a token is issued on: changing any of these revokes the client's earlier tokens.
TOKEN_FIELDS = ("scopes", "is_active", "operator_id")


def note_token_field_changes(sender, instance: ApiClient, raw: bool = False, **kwargs) -> None:
    """pre_save receiver: remember whether this save changes what the client's tokens
    were issued on (scopes, activation, operator), whichever code path saves it."""
    instance._revokes_tokens = False
    if raw or instance._state.adding:
        return
    stored = ApiClient.objects.filter(pk=instance.pk).values(*TOKEN_FIELDS).first()
    instance._revokes_tokens = stored is not None and any(
        stored[field] != getattr(instance, field) for field in TOKEN_FIELDS
    )


def revoke_on_token_field_change(sender, instance: ApiClient, **kwargs) -> None:
    """post_save receiver: bump the credential version after such a change, so tokens
    carrying the old scopes or operator stop working (also on reactivation: tokens from
    before a deactivation never come back)."""
    if not getattr(instance, "_revokes_tokens", False):
        return
    instance._revokes_tokens = False
    ApiClient.objects.filter(pk=instance.pk).update(secret_version=F("secret_version") + 1)
    instance.secret_version = (
        ApiClient.objects.filter(pk=instance.pk).values_list("secret_version", flat=True).get()
    )
    version = instance.secret_version if instance.is_active else _REVOKED
    client_id = instance.client_id
    transaction.on_commit(lambda: publish_credential_version(tokens.OPERATOR, client_id, version))


def revoke_deleted_client(sender, instance: ApiClient, **kwargs) -> None:
    """post_delete receiver: a deleted API client must not keep working on its tokens."""
    publish_credential_version(tokens.OPERATOR, instance.client_id, _REVOKED)


def revoke_deleted_device(sender, instance: Device, **kwargs) -> None:
    """post_delete receiver: a deleted device must not keep working on its tokens."""
    publish_credential_version(tokens.DEVICE, instance.device_id, _REVOKED)


def _current_version(kind: str, subject: str) -> int:
    version = credential_versions.cached(kind, subject)
    if version is None:
        if kind == tokens.OPERATOR:
            row = (
                ApiClient.objects.filter(client_id=subject, is_active=True)
                .values_list("secret_version", flat=True)
                .first()
            )
        else:
            row = (
                Device.objects.filter(device_id=subject)
                .values_list("credential_version", flat=True)
                .first()
            )
        version = row or _REVOKED
        # Remembered, not broadcast: a read racing a rotation must not spread the old value.
        credential_versions.remember(kind, subject, version)
    return version


def issue_operator_token(client_id: str, client_secret: str) -> IssuedToken:
    """Client-credentials grant. Earlier tokens of the client stay valid."""
    client = (
        ApiClient.objects.filter(client_id=client_id, is_active=True)
        .select_related("operator")
        .first()
    )
    matches = secret_matches(client_secret, client.secret_hash if client else _DUMMY_HASH)
    if client is None or not matches:
        raise NotAuthenticated("Invalid client credentials")
    token = tokens.encode_token(
        tokens.OPERATOR,
        client.client_id,
        client.secret_version,
        scopes=list(client.scopes),
        operator_id=client.operator_id,
    )
    return IssuedToken(token, settings.TELLUS_TOKEN_TTL_SECONDS)


def issue_device_token(device_id: str, device_secret: str) -> IssuedToken:
    device = Device.objects.filter(device_id=device_id).first()
    matches = secret_matches(device_secret, device.secret_hash if device else _DUMMY_HASH)
    if device is None or not matches:
        raise NotAuthenticated("Invalid device credentials")
    if device.secret_expires_at <= timezone.now():
        raise NotAuthenticated("Device secret expired; the operator must reset its credentials")
    token = tokens.encode_token(tokens.DEVICE, device.device_id, device.credential_version)
    return IssuedToken(token, settings.TELLUS_TOKEN_TTL_SECONDS)


def authenticate_operator(access_token: str) -> OperatorPrincipal:
    claims = tokens.decode_token(access_token, tokens.OPERATOR)
    if (
        not claims.operator_id
        or _current_version(tokens.OPERATOR, claims.subject) != claims.version
    ):
        raise NotAuthenticated("Token has been revoked")
    return OperatorPrincipal(
        claims.subject, claims.operator_id, claims.scopes, claims.expires_at, claims.version
    )


def authenticate_device(access_token: str) -> DevicePrincipal:
    claims = tokens.decode_token(access_token, tokens.DEVICE)
    if _current_version(tokens.DEVICE, claims.subject) != claims.version:
        raise NotAuthenticated("Token has been revoked")
    return DevicePrincipal(claims.subject)


async def aauthenticate_device(access_token: str) -> DevicePrincipal:
    """For async callers: only a cache miss leaves the event loop for the database."""
    claims = tokens.decode_token(access_token, tokens.DEVICE)
    version = await credential_versions.acached(tokens.DEVICE, claims.subject)
    if version is None:
        version = await sync_to_async(_current_version)(tokens.DEVICE, claims.subject)
    if version != claims.version:
        raise NotAuthenticated("Token has been revoked")
    return DevicePrincipal(claims.subject)
