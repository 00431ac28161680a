"""The audit page's filters: who (the actor), what (the action), which subject (its type
and id) and when (a UTC window), each matched exactly so every filter reads an index."""

from functools import cache

from django import forms
from django.apps import apps
from django.core.exceptions import ValidationError

from console.web.forms.records import WindowForm
from fleet.models import AuditEntry
from fleet.services.audit import resource_type_of

PAGE_SIZE = 25
# Entries counted and paged through: past that the page says "more than" and older
# entries are reached by narrowing the window (counting a million rows costs seconds).
COUNT_LIMIT = 10_000
MAX_PAGE = COUNT_LIMIT // PAGE_SIZE
# Rows in one CSV export, the newest first (the page says so beside the link).
EXPORT_LIMIT = 100_000

ACTOR_MAX = AuditEntry._meta.get_field("actor").max_length
SUBJECT_ID_MAX = AuditEntry._meta.get_field("resource_id").max_length
ACTOR_KINDS = ("user:", "client:", "cli:")
PLATFORM = "platform"

# Every action the platform's services, the admin and the sign-in signals write, in words.
ACTION_WORDS = {
    "create": "created",
    "update": "changed",
    "delete": "deleted",
    "rotate_secret": "rotated the secret of",
    "reset_credentials": "reset the credentials of",
    "release_serial": "released the serial number of",
    "execute_command": "sent a command to",
    "retry_push": "retried",
    "acknowledge_alert": "acknowledged",
    "resolve_alert": "resolved",
    "dismiss_alert": "dismissed",
    "start_runbook": "started",
    "step_result": "recorded a step of",
    "resume_runbook": "resumed",
    "resolve_runbook": "resolved",
    "close_runbook": "closed",
    "escalate": "escalated",
    "login": "signed in",
    "logout": "signed out",
    "login_failed": "failed to sign in",
}
# The select's labels: the words above read alone, with the kind of subject they go with.
ACTION_LABELS = {
    "create": "Created something",
    "update": "Changed something",
    "delete": "Deleted something",
    "rotate_secret": "Rotated an API client's secret",
    "reset_credentials": "Reset a charger's credentials",
    "release_serial": "Released a charger's serial number",
    "execute_command": "Sent a command to a charger",
    "retry_push": "Retried a legacy push",
    "acknowledge_alert": "Acknowledged an alert",
    "resolve_alert": "Resolved an alert",
    "dismiss_alert": "Dismissed an alert",
    "start_runbook": "Started a runbook run",
    "step_result": "Recorded a runbook step",
    "resume_runbook": "Resumed a runbook run",
    "resolve_runbook": "Resolved a runbook run",
    "close_runbook": "Closed a runbook run",
    "escalate": "Escalated a runbook run",
    "login": "Signed in",
    "logout": "Signed out",
    "login_failed": "Failed to sign in",
}
ACTION_CHOICES = [
    ("", "Any action"),
    *sorted(ACTION_LABELS.items(), key=lambda choice: choice[1]),
]

# Subjects in words; any other kind of record the admin can change reads as its type.
SUBJECT_WORDS = {
    "device": "charger",
    "site": "site",
    "alert": "alert",
    "runbook_run": "runbook run",
    "step_result": "runbook step",
    "client": "API client",
    "operator": "operator",
    "user": "user",
    "console_member": "console membership",
    "group": "user group",
    "command_status": "command status",
    "firmware_update": "firmware update",
    "fault_code": "fault code",
    "legacy_push": "legacy push",
    "legacy_order": "legacy order",
}
# The apps whose records reach the trail (through their services or the admin).
AUDITED_APPS = ("fleet", "diagnostics", "console", "auth")


def no_control_characters(text: str) -> None:
    """Names and ids in the trail never hold control characters: one typed is a mistake
    (NUL is left to Django's own check, which says so already)."""
    if any(0 < ord(char) < 32 or ord(char) == 127 for char in text):
        raise ValidationError("Remove the control characters (such as NUL or a tab).")


def subject_words(resource_type: str) -> str:
    return SUBJECT_WORDS.get(resource_type, resource_type.replace("_", " "))


@cache
def subject_choices() -> list[tuple[str, str]]:
    """Every kind of subject the trail can name, by its words (computed once)."""
    types = set(SUBJECT_WORDS) | {
        resource_type_of(model)
        for model in apps.get_models()
        if model._meta.app_label in AUDITED_APPS
    }
    words = sorted((subject_words(t).capitalize(), t) for t in types)
    return [("", "Anything"), *((value, label) for label, value in words)]


class ActorField(forms.CharField):
    """An actor as the trail names it (user:olga, client:cli_…, cli:root, platform); a
    bare name is a console user's."""

    def clean(self, value: object) -> str:
        text = super().clean(value)
        if not text or text == PLATFORM or text.startswith(ACTOR_KINDS):
            return text
        return f"user:{text}"


class AuditFilterForm(WindowForm):
    actor = ActorField(
        required=False,
        max_length=ACTOR_MAX,
        strip=True,
        validators=[no_control_characters],
        label="Who",
        help_text="A person's user name, or an API client or the platform chosen from the list.",
    )
    action = forms.ChoiceField(required=False, choices=ACTION_CHOICES, label="Action")
    subject_type = forms.ChoiceField(required=False, choices=(), label="Subject")
    subject_id = forms.CharField(
        required=False,
        max_length=SUBJECT_ID_MAX,
        strip=True,
        validators=[no_control_characters],
        label="Subject id",
    )
    page = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_PAGE,
        error_messages={
            "min_value": "Pages start at 1.",
            "max_value": (
                f"The log pages through its newest {COUNT_LIMIT:,} matching entries "
                f"(pages 1 to {MAX_PAGE}); choose an earlier Until to reach older ones."
            ),
        },
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["subject_type"].choices = subject_choices()

    def query_filters(self) -> dict:
        """Keyword arguments for `fleet.queries.audit.audit_entries` (after is_valid)."""
        data = self.cleaned_data
        return {
            "actor": data.get("actor") or None,
            "action": data.get("action") or None,
            "resource_type": data.get("subject_type") or None,
            "resource_id": data.get("subject_id") or None,
            "since": data.get("start"),
            "until": data.get("end"),
        }

    @property
    def filtered(self) -> bool:
        return any(value is not None for value in self.query_filters().values())
