"""Words the console's pages share: a refused form's problems in one line, durations as a
person says them, and who did something (an actor label) as a person reads it."""

from collections.abc import Iterable

from django import forms

from fleet.models import ApiClient


def form_problems(form: forms.Form) -> str:
    """Each field's errors under its label ("request" for the form's own), in one line."""
    labels = {name: field.label or name for name, field in form.fields.items()}
    return "; ".join(
        f"{labels.get(field, 'request')}: {' '.join(errors)}"
        for field, errors in form.errors.items()
    )


def spoken_minutes(minutes: int) -> str:
    """30 → "30 minutes", 90 → "1 hour 30 minutes", 1440 → "1 day"."""
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = [
        f"{value} {unit}{'s' if value != 1 else ''}"
        for value, unit in ((days, "day"), (hours, "hour"), (mins, "minute"))
        if value
    ]
    return " ".join(parts)


def actor_words(label: str, client_names: dict[str, str] | None = None) -> str:
    """user:olga → olga; client:cli_… → the API client <its name>; cli:root → the command
    line (root); platform → the platform."""
    kind, _, name = (label or "").partition(":")
    if kind == "user" and name:
        return name
    if kind == "client" and name:
        return f"the API client {(client_names or {}).get(name) or name}"
    if kind == "cli" and name:
        return f"the command line ({name})"
    return "the platform" if not label or label == "platform" else label


def client_names(operator_id: str | None, labels: Iterable[str]) -> dict[str, str]:
    """The names of the operator's own API clients among actor labels (another
    operator's client stays an id)."""
    ids = {label.removeprefix("client:") for label in labels if label.startswith("client:")}
    if not ids or operator_id is None:
        return {}
    return dict(
        ApiClient.objects.filter(operator_id=operator_id, client_id__in=ids).values_list(
            "client_id", "name"
        )
    )


# A fault entry's thresholds carry their unit in their key (diagnostics/data/faults.yaml):
# the known ones in words, any other by its key's unit suffix.
THRESHOLDS = {
    "bms_discharge_floor_soc_pct": ("BMS discharge floor, state of charge", "%"),
    "cabinet_fan_nominal_rpm": ("Cabinet fan nominal speed", "rpm"),
    "coil_supply_tolerance_pct": ("Coil supply tolerance", "%"),
    "connector_warning_temp_c_ac": ("Connector warning temperature, AC", "°C"),
    "connector_warning_temp_c_dc": ("Connector warning temperature, DC", "°C"),
    "contactor_life_cycles_ac": ("Contactor life, AC", "cycles"),
    "contactor_life_cycles_dc": ("Contactor life, DC", "cycles"),
    "contributing_ambient_above_c": ("Ambient temperature that contributes, above", "°C"),
    "heartbeat_interval_s": ("Heartbeat interval", "s"),
    "inverter_health_window_h": ("Inverter health window", "h"),
    "isolation_test_pass_above_kohms": ("Isolation test passes above", "kΩ"),
    "reconnect_storm_above_count": ("Reconnect storm above", "reconnects"),
    "reconnect_storm_window_s": ("Reconnect storm window", "s"),
    "site_visit_above_timeouts_per_day": ("Site visit above", "timeouts a day"),
}
UNIT_SUFFIXES = {"_c": "°C", "_pct": "%", "_s": "s", "_h": "h", "_kw": "kW", "_v": "V", "_a": "A"}


def threshold_words(name: str, value: object) -> tuple[str, str]:
    """("heartbeat_interval_s", 30) → ("Heartbeat interval", "30 s")."""
    label, unit = THRESHOLDS.get(str(name), ("", ""))
    if not label:
        key = str(name)
        for suffix, symbol in UNIT_SUFFIXES.items():
            if key.endswith(suffix):
                key, unit = key.removesuffix(suffix), symbol
                break
        label = key.replace("_", " ").capitalize()
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return label, f"{text} {unit}" if unit else text
