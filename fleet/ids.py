"""Public identifiers: a readable prefix and random hex, like the spec's `dvc_a1b2c3d4e5f6`."""

import secrets

# Prefix and number of random bytes. Commands and controls are created far more often
# than devices or sites, so they get more entropy.
ID_FORMATS = {
    "operator": ("op_", 6),
    "client": ("cli_", 8),
    "site": ("site_", 6),
    "device": ("dvc_", 6),
    "command": ("cmd_", 10),
    "control": ("ctl_", 10),
    "order": ("ord_", 10),
    "run": ("run_", 8),
    "campaign": ("fwc_", 8),
}


def new_id(kind: str) -> str:
    prefix, nbytes = ID_FORMATS[kind]
    return prefix + secrets.token_hex(nbytes)


def new_operator_id() -> str:
    return new_id("operator")


def new_client_id() -> str:
    return new_id("client")


def new_site_id() -> str:
    return new_id("site")


def new_device_id() -> str:
    return new_id("device")


def new_command_id() -> str:
    return new_id("command")


def new_control_id() -> str:
    return new_id("control")


def new_run_id() -> str:
    return new_id("run")


def new_campaign_id() -> str:
    return new_id("campaign")
