from django.db import models

from fleet.credentials import secret_matches
from fleet.ids import new_client_id, new_operator_id

SCOPES = ("read", "write")


class Operator(models.Model):
    """A tenant: owns sites (and through them devices) and API clients."""

    operator_id = models.CharField(max_length=32, primary_key=True, default=new_operator_id)
    name = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ApiClient(models.Model):
    """An OAuth2 client-credentials client of the operator API.

    Only a digest of the secret is kept. `secret_version` is embedded in every token
    and bumped on rotation, which invalidates the tokens issued before it.
    """

    client_id = models.CharField(max_length=64, primary_key=True, default=new_client_id)
    operator = models.ForeignKey(Operator, on_delete=models.CASCADE, related_name="clients")
    name = models.CharField(max_length=200, blank=True)
    secret_hash = models.CharField(max_length=128)
    # Encrypted copy of the secret: the key for verifying signed requests.
    secret_sealed = models.TextField(blank=True)
    secret_version = models.PositiveIntegerField(default=1)
    secret_rotated_at = models.DateTimeField(null=True, blank=True)
    scopes = models.JSONField(default=list, help_text='Any of "read", "write".')
    legacy_callback_url = models.URLField(
        blank=True, help_text="Base URL of the peer's legacy interop endpoints (outbound pushes)."
    )
    require_signed_writes = models.BooleanField(
        default=False, help_text="Refuse write requests without a valid X-Signature."
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["operator__name", "client_id"]
        verbose_name = "API client"

    def __str__(self) -> str:
        return self.client_id

    def check_secret(self, secret: str) -> bool:
        return secret_matches(secret, self.secret_hash)


class UsedSignature(models.Model):
    """A request signature already accepted, kept until its timestamp leaves the clock-skew
    window so that a replay is refused. In the database, so a Redis restart forgets none."""

    client_id = models.CharField(max_length=64)
    signature = models.CharField(max_length=64)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client_id", "signature"], name="signature_used_once")
        ]

    def __str__(self) -> str:
        return f"{self.client_id} {self.signature[:12]}…"
