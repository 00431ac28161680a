"""The production configuration: secure by default, each setting adjustable from the
environment, and `manage.py check --deploy` clean.

Each case runs in a process of its own on `console.settings` (the suite's own settings
speak plain http), configured the way docs/operations.md, "Running in production", says.
"""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SHOWN = [
    "DEBUG",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_PROXY_SSL_HEADER",
]


@pytest.fixture
def production(tmp_path) -> dict[str, str]:
    """The environment of a production process (no DEBUG, no plain-http switch)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SECURE_", "SESSION_", "CSRF_", "TELLUS_"))
        and key not in {"DEBUG", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "console.settings",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "tellus.example.com",
            "TELLUS_VAR_DIR": str(tmp_path),
        }
    )
    return env


def python(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
        timeout=120,
    )


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return python(env, str(ROOT / "manage.py"), *args)


def settings_in(env: dict[str, str]) -> dict:
    script = (
        "import django, json; django.setup(); from django.conf import settings; "
        f"print(json.dumps({{name: getattr(settings, name, None) for name in {SHOWN!r}}}))"
    )
    done = python(env, "-c", script)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_check_deploy_is_clean_in_the_production_configuration(production):
    done = manage(production, "check", "--deploy", "--fail-level", "WARNING")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


def test_check_deploy_flags_plain_http_so_the_clean_result_means_something(production):
    done = manage({**production, "TELLUS_PLAIN_HTTP": "true"}, "check", "--deploy")
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in done.stderr + done.stdout


def test_production_defaults_are_the_secure_ones(production):
    assert settings_in(production) == {
        "DEBUG": False,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31_536_000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_PROXY_SSL_HEADER": None,
    }


def test_each_setting_comes_from_the_environment(production):
    shown = settings_in(
        {
            **production,
            "SECURE_HSTS_SECONDS": "600",
            "SECURE_HSTS_INCLUDE_SUBDOMAINS": "false",
            "SECURE_SSL_REDIRECT": "false",
            "TELLUS_PROXY_SETS_FORWARDED_PROTO": "true",
        }
    )
    assert shown["SECURE_HSTS_SECONDS"] == 600
    assert shown["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is False
    assert shown["SECURE_SSL_REDIRECT"] is False
    assert shown["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert shown["SESSION_COOKIE_SECURE"] is True  # untouched ones keep the secure default


def test_plain_http_for_make_run_and_debug_turns_the_https_settings_off(production):
    for switch in ({"TELLUS_PLAIN_HTTP": "true"}, {"DEBUG": "true"}):
        shown = settings_in({**production, **switch})
        assert shown["SECURE_SSL_REDIRECT"] is False
        assert shown["SECURE_HSTS_SECONDS"] == 0
        assert shown["SESSION_COOKIE_SECURE"] is False


def test_a_malformed_value_stops_the_process_naming_the_variable(production):
    done = manage({**production, "SECURE_HSTS_SECONDS": "a year"}, "check")
    assert done.returncode != 0
    assert "SECURE_HSTS_SECONDS" in done.stderr


def test_a_short_encryption_key_stops_the_process(production):
    done = manage({**production, "TELLUS_ENCRYPTION_KEYS": "short,also-short"}, "check")
    assert done.returncode != 0
    assert "TELLUS_ENCRYPTION_KEYS: each key needs at least 32 characters" in done.stderr


@pytest.mark.live_server
def test_a_production_server_redirects_to_https_and_sends_hsts_and_a_policy(production):
    script = """
import django; django.setup()
from django.test import Client
plain = Client(HTTP_HOST="tellus.example.com")
page = plain.get("/v1/docs")
probe = plain.get("/healthz")
secure = Client(HTTP_HOST="tellus.example.com").get("/v1/docs", secure=True)
print(page.status_code, page.get("Location"))
print(probe.status_code)
print(secure.status_code, secure.get("Strict-Transport-Security"))
print(secure.get("Content-Security-Policy"))
"""
    done = python({**production, "DATABASE_URL": os.environ["DATABASE_URL"]}, "-c", script)
    assert done.returncode == 0, done.stderr
    redirect, probe, secure, policy = done.stdout.strip().splitlines()
    assert redirect == "301 https://tellus.example.com/v1/docs"
    assert probe in {"200", "503"}  # exempt from the redirect; its status is the database's
    assert secure == "200 max-age=31536000; includeSubDomains"
    assert "script-src 'self' 'nonce-" in policy
