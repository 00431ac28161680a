"""The demo's secrets on disk are readable by their owner only (0600) from the moment they
exist, also where an earlier release left them looser; its logins are printed again by
`make logins`, from the file `make run` keeps them in."""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from console.env import load_or_create_secret_key, private_sqlite_file
from console.web.demo_logins import format_logins, read_logins, save_logins
from fleet.private_files import write_private
from fleet.simulator.fleet import save_state
from tests.live_server import REPO


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask():
    """The loosest umask a person may have: a file made with defaults is world-writable."""
    previous = os.umask(0)
    yield
    os.umask(previous)


def test_secret_files_are_created_0600(tmp_path, open_umask):
    key = load_or_create_secret_key(tmp_path / "secret_key")
    save_state(tmp_path / "simulator.json", {"chargers": [{"device_secret": "s3cret"}]})
    save_logins(tmp_path, {"demo-viewer": "pw"})
    private_sqlite_file(tmp_path / "tellus.sqlite3")

    for name in ["secret_key", "simulator.json", "console-logins.json", "tellus.sqlite3"]:
        assert mode(tmp_path / name) == 0o600, name
    assert len(key) > 40 and load_or_create_secret_key(tmp_path / "secret_key") == key
    assert not list(tmp_path.glob("*.tmp"))  # the scratch copies were renamed over


def test_secret_files_left_looser_by_an_earlier_release_are_tightened(tmp_path):
    for name in ["secret_key", "simulator.json", "console-logins.json", "tellus.sqlite3"]:
        (tmp_path / name).write_text("{}" if name.endswith(".json") else "old")
        (tmp_path / name).chmod(0o644)
    # A crash may have left a world-readable scratch copy: it is not reused as it is.
    (tmp_path / "simulator.json.tmp").write_text("{}")
    (tmp_path / "simulator.json.tmp").chmod(0o666)

    assert load_or_create_secret_key(tmp_path / "secret_key") == "old"  # kept, tightened
    save_state(tmp_path / "simulator.json", {"chargers": []})
    read_logins(tmp_path)
    private_sqlite_file(tmp_path / "tellus.sqlite3")

    for name in ["secret_key", "simulator.json", "console-logins.json", "tellus.sqlite3"]:
        assert mode(tmp_path / name) == 0o600, name


def test_a_private_write_never_shows_a_looser_mode(tmp_path, monkeypatch, open_umask):
    """The scratch file is 0600 before the first byte is written into it."""
    seen = []
    real_fdopen = os.fdopen

    def spying_fdopen(fd, *args, **kwargs):
        seen.append(stat.S_IMODE(os.fstat(fd).st_mode))
        return real_fdopen(fd, *args, **kwargs)

    monkeypatch.setattr(os, "fdopen", spying_fdopen)
    write_private(tmp_path / "simulator.json", "{}")
    assert seen == [0o600]


@pytest.mark.django_db
def test_the_superuser_password_is_kept_with_the_demo_logins(settings, tmp_path, capsys):
    settings.VAR_DIR = tmp_path
    call_command("ensure_console_admin", "--keep-password")
    call_command("seed_console_users", "--operator", "Demo Charging", "--quiet")
    printed = capsys.readouterr().out

    saved = read_logins(tmp_path)
    assert mode(tmp_path / "console-logins.json") == 0o600
    assert set(saved) == {"admin", "demo-viewer", "demo-engineer", "demo-operator", "demo-admin"}
    for username, password in saved.items():
        assert get_user_model().objects.get(username=username).check_password(password)
    assert saved["demo-viewer"] not in printed  # --quiet: `make run` prints them last


def test_the_logins_name_the_console_every_role_and_where_they_are_kept(tmp_path):
    text = format_logins(
        "http://127.0.0.1:8000",
        {"demo-viewer": "v-pw", "demo-admin": "a-pw", "admin": "su-pw"},
        tmp_path,
    )
    assert "Console: http://127.0.0.1:8000/" in text
    assert "viewer    demo-viewer    v-pw" in text
    assert "admin     demo-admin     a-pw" in text
    assert "Platform superuser" in text and "su-pw" in text
    assert str(tmp_path / "console-logins.json") in text and "make logins" in text
    assert "not yet" not in text


def run_make_logins(var_dir: Path, port: str) -> subprocess.CompletedProcess:
    """The real `make logins`, with the embedded default (no database, no Redis)."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env |= {"TELLUS_VAR_DIR": str(var_dir)}
    bin_dir = Path(sys.executable).parent
    return subprocess.run(
        ["make", "--no-print-directory", "logins", f"PORT={port}", f"BIN={bin_dir}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_make_logins_prints_the_console_url_and_each_login_again(tmp_path):
    logins = {f"demo-{role}": f"{role}-pw" for role in ["viewer", "engineer", "operator", "admin"]}
    (tmp_path / "console-logins.json").write_text(json.dumps(logins))
    (tmp_path / "console-logins.json").chmod(0o644)

    done = run_make_logins(tmp_path, "8147")

    assert done.returncode == 0, done.stderr
    assert "Console: http://127.0.0.1:8147/" in done.stdout
    for username, password in logins.items():
        assert f"{username:<14} {password}" in done.stdout
    assert mode(tmp_path / "console-logins.json") == 0o600  # tightened on the way


def test_make_logins_before_the_first_run_says_so(tmp_path):
    done = run_make_logins(tmp_path, "8147")
    assert done.returncode == 0, done.stderr
    assert "No demo logins saved" in done.stdout and "make run" in done.stdout
