"""Words for people for the keys the diagnostics data is written in: detectors, automatic
checks and the fault patterns a check finds. One mapping, used by check summaries, runbook
suggestions, the console's pages and anything else that shows such a key to a person."""

DETECTORS = {
    "repeat_fault": "repeated fault",
    "firmware_cluster": "same fault on one firmware",
    "heartbeat_lost": "heartbeat lost",
    "reconnect_storm": "reconnect storm",
    "cabinet_over_temperature": "cabinet over-temperature",
    "cooling_fan_slow": "cooling fan too slow",
    "over_temperature": "over-temperature",
    "discharge_no_power": "discharge without power",
    "stuck_preparing": "stuck in preparing",
    "firmware_rollout_halted": "firmware rollout halted",
}

CHECKS = {
    "voltage_in_envelope": "supply voltage within the model's range",
    "heartbeat_fresh": "recent heartbeat",
    "fault_pattern": "pattern of the recent faults",
    "firmware_current": "firmware close to the latest build",
    "firmware_at_least": "firmware at least the version needed",
    "auth_before_preparing": "authorisation before preparing",
    "command_status": "outcome of the command sent",
    "fleet_cluster": "same fault on other chargers of the fleet",
    "code_present": "fault codes reported",
    "soc_above_floor": "state of charge above its floor",
}

PATTERNS = {
    "f0204": "F-0204 among them",
    "v2g": "a V2G fault among them",
    "f0421_cluster": "F-0421 repeated (a cluster)",
    "f0411_single": "a single F-0411",
    "none": "no known pattern",
}

# Evidence and branch keys whose values are one of the keys above.
VALUES = {"pattern": PATTERNS, "detector": DETECTORS, "check": CHECKS}

WORDS = {**DETECTORS, **CHECKS, **PATTERNS}


def words(key: object) -> str:
    """A key as a person reads it; an unknown one with its underscores as spaces."""
    text = str(key)
    return WORDS.get(text) or text.replace("_", " ")


def value_words(name: str, value: object) -> object:
    """An evidence or branch value in words where its key names a kind of key."""
    mapping = VALUES.get(name)
    if mapping is not None and isinstance(value, str):
        return mapping.get(value, value.replace("_", " "))
    return value


def counted(count: int, singular: str, plural: str | None = None) -> str:
    """1 → "1 fault event", 3 → "3 fault events"."""
    return f"{count} {singular if count == 1 else (plural or singular + 's')}"
