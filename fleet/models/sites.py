from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from fleet.ids import new_site_id
from fleet.models.operators import Operator


class Site(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active"
        INACTIVE = "inactive"

    site_id = models.CharField(max_length=32, primary_key=True, default=new_site_id)
    operator = models.ForeignKey(Operator, on_delete=models.CASCADE, related_name="sites")
    name = models.CharField(max_length=200)
    address = models.CharField(max_length=500, blank=True)
    lat = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(-90), MaxValueValidator(90)]
    )
    lng = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(-180), MaxValueValidator(180)]
    )
    power_capacity = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(0)], help_text="Installed kW."
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "site_id"]
        indexes = [models.Index(fields=["operator", "status"])]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(lat__isnull=True) & models.Q(lng__isnull=True))
                | (models.Q(lat__isnull=False) & models.Q(lng__isnull=False)),
                name="site_lat_lng_together",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.site_id})"
