"""Revoke tokens when their subject disappears: a deleted API client or device must not
keep working on tokens it was issued."""

from django.db.models.signals import post_delete
from django.dispatch import receiver

from fleet import tokens
from fleet.models import ApiClient, Device
from fleet.services.auth import publish_credential_version


@receiver(post_delete, sender=ApiClient)
def revoke_deleted_client(sender, instance: ApiClient, **kwargs) -> None:
    publish_credential_version(tokens.OPERATOR, instance.client_id, 0)


@receiver(post_delete, sender=Device)
def revoke_deleted_device(sender, instance: Device, **kwargs) -> None:
    publish_credential_version(tokens.DEVICE, instance.device_id, 0)
