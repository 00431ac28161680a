"""The demo's logins, kept in TELLUS_VAR_DIR/console-logins.json (0600) by
`seed_console_users` and `ensure_console_admin --keep-password`, and printed last by
`make run` and again by `make logins` (`python -m console.web.demo_logins`).

Plain Python, no Django: printing them needs neither the database nor the settings.
"""

import json
import os
import sys
from pathlib import Path

from fleet.private_files import make_private, write_private

FILE_NAME = "console-logins.json"
SUPERUSER = "admin"
ROLES = ["viewer", "engineer", "operator", "admin"]
DEFAULT_VAR_DIR = Path(__file__).resolve().parent.parent.parent / "var"  # as the settings


def logins_file(var_dir: Path) -> Path:
    return Path(var_dir) / FILE_NAME


def read_logins(var_dir: Path) -> dict[str, str]:
    """Username → password; empty when the file does not exist yet."""
    path = logins_file(var_dir)
    if not path.exists():
        return {}
    make_private(path)  # an older release may have left it looser
    saved = json.loads(path.read_text() or "{}")
    return {str(k): str(v) for k, v in saved.items()} if isinstance(saved, dict) else {}


def save_logins(var_dir: Path, logins: dict[str, str]) -> None:
    write_private(logins_file(var_dir), json.dumps(logins, indent=1))


def format_logins(url: str, logins: dict[str, str], var_dir: Path) -> str:
    """What a person needs to sign in: the console's address, one line per demo role and
    the platform superuser, and where the passwords are kept."""
    lines = [f"  Console: {url}/   (API documentation {url}/v1/docs, Django admin {url}/admin/)"]
    roles = [(role, f"demo-{role}") for role in ROLES if f"demo-{role}" in logins]
    if roles:
        lines.append("  Sign in as one of Demo Charging's people (role, login, password):")
        lines += [f"    {role:<9} {username:<14} {logins[username]}" for role, username in roles]
    if SUPERUSER in logins:
        lines.append(f"  Platform superuser (every operator, /admin/): admin  {logins[SUPERUSER]}")
    if not logins:
        lines.append(f"  No demo logins saved in {logins_file(var_dir)} yet: run `make run` first.")
    else:
        lines.append(
            f"  Passwords are kept in {logins_file(var_dir)} (readable by you only); "
            "`make logins` prints this again."
        )
    return "\n".join(lines)


def main() -> int:
    var_dir = Path(os.environ.get("TELLUS_VAR_DIR", DEFAULT_VAR_DIR))
    host, port = os.environ.get("HOST", "127.0.0.1"), os.environ.get("PORT", "8000")
    print(format_logins(f"http://{host}:{port}", read_logins(var_dir), var_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
