"""Reading configuration from the environment."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from console.env import env_int, env_rate, env_retry_schedule, parse_database_url


def test_postgres_url_is_parsed():
    config = parse_database_url("postgres://tellus:p%40ss@db.internal:6543/fleet?sslmode=require")
    assert config["ENGINE"] == "console.postgresql"
    assert (config["USER"], config["PASSWORD"], config["HOST"], config["PORT"], config["NAME"]) == (
        "tellus",
        "p@ss",
        "db.internal",
        "6543",
        "fleet",
    )
    assert config["OPTIONS"]["sslmode"] == "require"
    assert config["OPTIONS"]["pool"]


def test_sqlite_url_is_parsed():
    assert parse_database_url("sqlite:////tmp/x.db")["NAME"] == "/tmp/x.db"


def test_unsupported_database_is_refused():
    with pytest.raises(ImproperlyConfigured):
        parse_database_url("mysql://root@localhost/db")


def test_rates(monkeypatch):
    assert env_rate("TELLUS_TEST_RATE", "60/minute") == (60, 60)
    monkeypatch.setenv("TELLUS_TEST_RATE", "10/second")
    assert env_rate("TELLUS_TEST_RATE", "60/minute") == (10, 1)
    monkeypatch.setenv("TELLUS_TEST_RATE", "5/15minute")
    assert env_rate("TELLUS_TEST_RATE", "60/minute") == (5, 900)
    for bad in ("lots", "5/0minute", "0/minute", "5/5000day"):
        monkeypatch.setenv("TELLUS_TEST_RATE", bad)
        with pytest.raises(ImproperlyConfigured):
            env_rate("TELLUS_TEST_RATE", "60/minute")


def test_integers_and_schedules(monkeypatch):
    monkeypatch.setenv("TELLUS_TEST_INT", "-1")
    with pytest.raises(ImproperlyConfigured):
        env_int("TELLUS_TEST_INT", 5, minimum=0)
    monkeypatch.setenv("TELLUS_TEST_SCHEDULE", "1,2,3")
    assert env_retry_schedule("TELLUS_TEST_SCHEDULE", [60]) == [1, 2, 3]
    monkeypatch.setenv("TELLUS_TEST_SCHEDULE", "1,soon")
    with pytest.raises(ImproperlyConfigured):
        env_retry_schedule("TELLUS_TEST_SCHEDULE", [60])


def test_documented_defaults(settings):
    assert settings.TELLUS_TOKEN_TTL_SECONDS == 86400
    assert settings.TELLUS_OFFLINE_AFTER_SECONDS == 90
    assert settings.TELLUS_LEGACY_RETRY_SCHEDULE == [60, 300, 3600, 10800, 86400]
    assert settings.TELLUS_RATE_DEVICE_HIGH_FREQUENCY == (10, 1)
    assert settings.TELLUS_CLOCK_SKEW_SECONDS == 300
