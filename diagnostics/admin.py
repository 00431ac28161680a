from django.contrib import admin

from diagnostics.models import FaultCode


@admin.register(FaultCode)
class FaultCodeAdmin(admin.ModelAdmin):
    list_display = ["code", "title", "severity", "category", "source", "updated_at"]
    list_filter = ["severity", "category", "source"]
    search_fields = ["code", "title", "description"]
    readonly_fields = ["loaded_digest", "updated_at"]
