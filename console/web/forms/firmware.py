"""Forms of the Firmware pages: filtering the campaigns, and starting a campaign — which
build, where it comes from, which chargers (a model on some versions, or chargers named
one by one), in which stages, and when to halt. The form reads what a person types into
the arguments of the campaign service (fleet/services/firmware_campaigns/); the service
stays the judge of what may be started, and its refusals come back as the form's errors."""

import math
import re

from django import forms
from django.http import QueryDict

from fleet.models import Device
from fleet.queries.devices import device_by_reference

PAGE_SIZE = 25
MAX_STAGES = 10
MAX_DEVICES = 1000  # chargers named one by one; a model and its versions select any number
MAX_WINDOW_MINUTES = 7 * 24 * 60
DEFAULT_STAGES = "10, 50, 100"
DEFAULT_FAILED_PERCENT = 25
DEFAULT_FACTOR = 2.0
VERSION_LENGTH = 64
CODE = re.compile(r"^[A-Z]-\d{4}$")
# A list typed by hand: commas, spaces or new lines between the items.
SEPARATORS = re.compile(r"[\s,;]+")

STATUS_CHOICES = [
    ("", "Any status"),
    ("running", "Running"),
    ("paused", "Paused"),
    ("halted", "Halted"),
    ("cancelled", "Cancelled"),
    ("completed", "Completed"),
]


class CampaignFilterForm(forms.Form):
    status = forms.ChoiceField(required=False, choices=STATUS_CHOICES)
    page = forms.IntegerField(required=False, min_value=1, max_value=1_000_000)

    def query_filters(self) -> dict:
        return {"status": self.cleaned_data["status"] or None}


def items(text: str) -> list[str]:
    """ "3.0.0, 3.0.1" or one per line → ["3.0.0", "3.0.1"], repeats dropped, order kept."""
    return list(dict.fromkeys(part for part in SEPARATORS.split(text or "") if part))


def stage_sizes(stages: list[int], chargers: int) -> list[int]:
    """How many chargers each stage adds: stage percents are of all the chargers,
    cumulative, rounded up (10 % of 3 is 1), so every stage upgrades at least one."""
    reached, sizes = 0, []
    for percent in stages:
        upto = min(chargers, math.ceil(chargers * percent / 100))
        sizes.append(max(0, upto - reached))
        reached = max(reached, upto)
    return sizes


class CampaignForm(forms.Form):
    """A new campaign. `which` chooses the selection: "versions" (every charger of the
    model on the versions listed) or "devices" (the chargers listed, by serial or id)."""

    name = forms.CharField(max_length=120, label="Name")
    target_version = forms.CharField(max_length=VERSION_LENGTH, label="Target version")
    package_url = forms.URLField(
        max_length=500,
        label="Package URL",
        assume_scheme="https",
        help_text="Where chargers download the build",
    )
    which = forms.ChoiceField(
        choices=[("versions", "A model on some versions"), ("devices", "The chargers listed")],
        initial="versions",
        widget=forms.RadioSelect,
        label="Which chargers",
    )
    model = forms.CharField(required=False, max_length=64, label="Model")
    from_versions = forms.CharField(
        required=False, max_length=1000, label="On versions (commas between them)"
    )
    devices = forms.CharField(
        required=False,
        max_length=40_000,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Chargers (serials or ids, commas or one a line)",
    )
    stages = forms.CharField(
        max_length=100, initial=DEFAULT_STAGES, label="Stages (% of the chargers, cumulative)"
    )
    health_window_minutes = forms.IntegerField(
        min_value=1,
        max_value=MAX_WINDOW_MINUTES,
        initial=30,
        label="Health window between stages (minutes)",
    )
    halt_failed_percent = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=100,
        initial=DEFAULT_FAILED_PERCENT,
        label="Halt if more than this share fail (%)",
    )
    halt_fault_codes = forms.CharField(
        required=False, max_length=200, label="Halt on these fault codes (commas between them)"
    )
    halt_factor = forms.FloatField(
        required=False,
        min_value=1.0,
        max_value=100.0,
        initial=DEFAULT_FACTOR,
        label="… when reported this many times as often as before",
    )
    fault_code = forms.CharField(required=False, max_length=16, widget=forms.HiddenInput)

    def __init__(self, *args, operator_id: str | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.operator_id = operator_id
        self.chargers: list[Device] = []

    def clean_stages(self) -> list[int]:
        parts = items(self.cleaned_data["stages"])
        if not parts or not all(part.isdigit() and len(part) <= 3 for part in parts):
            raise forms.ValidationError("Give whole percents between 1 and 100, e.g. 10, 50, 100.")
        stages = [int(part) for part in parts]
        if len(stages) > MAX_STAGES:
            raise forms.ValidationError(f"At most {MAX_STAGES} stages.")
        if any(not 1 <= s <= 100 for s in stages) or stages != sorted(set(stages)):
            raise forms.ValidationError(
                "Each stage is a percent between 1 and 100, larger than the one before."
            )
        if stages[-1] != 100:
            raise forms.ValidationError(
                "The last stage must be 100 %, so every charger is upgraded."
            )
        return stages

    def clean_from_versions(self) -> list[str]:
        versions = items(self.cleaned_data["from_versions"])
        if any(len(v) > VERSION_LENGTH for v in versions):
            raise forms.ValidationError(f"A version has at most {VERSION_LENGTH} characters.")
        return versions

    def clean_halt_fault_codes(self) -> list[str]:
        codes = [code.upper() for code in items(self.cleaned_data["halt_fault_codes"])]
        wrong = [code for code in codes if not CODE.match(code)]
        if wrong:
            raise forms.ValidationError(f"Fault codes look like F-0421 (not {wrong[0][:16]}).")
        return codes

    def clean_fault_code(self) -> str:
        code = self.cleaned_data["fault_code"].strip().upper()
        return code if CODE.match(code) else ""

    def clean(self) -> dict:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        if cleaned["which"] == "versions":
            self._choose_by_versions(cleaned)
        else:
            self._choose_by_devices(cleaned)
        return cleaned

    def _choose_by_versions(self, cleaned: dict) -> None:
        model, versions = cleaned["model"].strip(), cleaned["from_versions"]
        if not model:
            self.add_error("model", "Name the model whose chargers are upgraded.")
            return
        if not versions:
            self.add_error("from_versions", "List the versions to upgrade from.")
            return
        chosen = (
            Device.objects.filter(site__operator_id=self.operator_id, model=model)
            .filter(firmware_version__in=versions)
            .select_related("site")
            .order_by("sn")
        )
        self.chargers = list(chosen)
        if not self.chargers:
            self.add_error(
                "from_versions",
                f"None of your chargers is a {model} on {' or '.join(versions)}.",
            )

    def _choose_by_devices(self, cleaned: dict) -> None:
        references = items(cleaned["devices"])
        if not references:
            self.add_error("devices", "List the chargers to upgrade.")
            return
        if len(references) > MAX_DEVICES:
            self.add_error(
                "devices",
                f"At most {MAX_DEVICES} chargers by name; choose a model and versions for more.",
            )
            return
        found, unknown = {}, []
        for reference in references:
            device = device_by_reference(self.operator_id, reference[:64])
            if device is None:
                unknown.append(reference[:64])
            else:
                found[device.device_id] = device
        if unknown:
            shown = ", ".join(unknown[:5]) + (" …" if len(unknown) > 5 else "")
            self.add_error("devices", f"Not one of your chargers: {shown}.")
            return
        self.chargers = sorted(found.values(), key=lambda d: d.sn)

    @property
    def halt_if(self) -> dict:
        """The halt rules as the service takes them."""
        data = self.cleaned_data
        rules: dict = {}
        if data.get("halt_failed_percent") is not None:
            rules["failed_percent"] = float(data["halt_failed_percent"])
        if data.get("halt_fault_codes"):
            rules["fault_codes"] = data["halt_fault_codes"]
            rules["fault_rate_factor"] = data["halt_factor"] or DEFAULT_FACTOR
        return rules

    def service_arguments(self) -> dict:
        """The keyword arguments of create_campaign."""
        data = self.cleaned_data
        arguments = {
            "name": data["name"],
            "target_version": data["target_version"].strip(),
            "package_url": data["package_url"],
            "stages": data["stages"],
            "health_window_minutes": data["health_window_minutes"],
            "halt_if": self.halt_if,
        }
        if data["which"] == "versions":
            arguments["selection"] = {
                "model": data["model"].strip(),
                "firmware_versions": data["from_versions"],
            }
        else:
            arguments["device_ids"] = [device.device_id for device in self.chargers]
        return arguments


def prefill(query: QueryDict, latest_of) -> dict:
    """The start form's initial values from a link's query (`model`, `from_version` and
    `device` repeatable, `target_version`, `fault_code`): other pages link here with what
    they know. Values are only shown, never trusted: the POST checks them all."""

    def plain(value: str, length: int) -> str:
        value = value.strip()[:length]
        return value if value.isprintable() else ""

    model = plain(query.get("model", ""), 64)
    versions = [plain(v, VERSION_LENGTH) for v in query.getlist("from_version")[:50]]
    devices = [plain(d, 64) for d in query.getlist("device")[:MAX_DEVICES]]
    fault = plain(query.get("fault_code", ""), 16).upper()
    fault = fault if CODE.match(fault) else ""
    target = plain(query.get("target_version", ""), VERSION_LENGTH) or (latest_of(model) or "")
    initial = {"model": model, "from_versions": ", ".join(v for v in versions if v)}
    initial["target_version"] = target
    if devices and any(devices):
        initial["which"] = "devices"
        initial["devices"] = "\n".join(d for d in devices if d)
    if fault:
        initial["fault_code"] = fault
        initial["halt_fault_codes"] = fault
    subject = model or "chargers"
    initial["name"] = " ".join(
        part
        for part in (subject, "to", target or "a new build", f"(fix {fault})" if fault else "")
        if part
    )[:120]
    return initial
