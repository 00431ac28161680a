import pytest
from django.apps import apps
from django.contrib.auth import get_user_model

from console.web.models import OperatorMember

pytestmark = pytest.mark.django_db


def test_login_page_is_served(client):
    response = client.get("/login/")
    assert response.status_code == 200
    assert b"Sign in" in response.content


def test_fleet_overview_requires_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_static_assets_are_local(client):
    get_user_model().objects.create_superuser("lead", password="s3cret-pass")
    client.login(username="lead", password="s3cret-pass")
    html = client.get("/").content.decode()
    assert "/static/vendor/htmx.min.js" in html
    assert "https://" not in html.split("<body")[0]


def test_healthz_reports_each_dependency(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": {"status": "ok", "vendor": "postgresql"},
        "redis": {"status": "ok"},
    }


def test_healthz_says_degraded_not_down_while_redis_is_unreachable(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["redis"]["status"] == "down"
    assert body["redis"]["error"] == "ConnectionError"
    assert "127.0.0.1" not in response.content.decode()


def test_ensure_console_admin_creates_one_superuser_once(capsys):
    from django.core.management import call_command

    call_command("ensure_console_admin")
    call_command("ensure_console_admin")
    User = get_user_model()
    assert User.objects.filter(is_superuser=True).count() == 1
    assert "admin /" in capsys.readouterr().out


def test_the_console_app_keeps_its_label_and_table():
    # The app moved to console.web; its label, and so its migrations and table, did not.
    config = apps.get_app_config("console")
    assert config.name == "console.web"
    assert OperatorMember._meta.db_table == "console_operatormember"


@pytest.mark.parametrize(
    "path",
    ["/devices/%00/", "/sites/%00/", "/runbooks/%00/", "/runs/run_%00/", "/devices/a%01b/",
     "/devices/" + "x" * 300 + "/"],
)  # fmt: skip
def test_ids_in_console_urls_with_control_characters_are_not_found(path, signed_in, make_client):
    make_client("Acme Charging")
    browser = signed_in("Acme Charging", "admin")
    assert browser.get(path).status_code == 404
    assert browser.post(path.replace("/%00/", "/%00/power/"), {}).status_code == 404
