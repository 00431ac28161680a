"""Every change made through the admin is in the audit trail: the staff user, the operator
the record belongs to, the changed fields before → after with secrets redacted, and the
address it came from."""

import json

import pytest
from django.contrib.admin.utils import quote
from django.contrib.auth import get_user_model
from django.forms import MultiWidget
from django.utils import timezone

from console.web.models import OperatorMember
from diagnostics.models import FaultCode
from fleet.models import ApiClient, AuditEntry, LegacyPush, Site

pytestmark = pytest.mark.django_db

STAFF_ADDRESS = "198.51.100.23"


@pytest.fixture
def admin_client(client):
    get_user_model().objects.create_superuser("root", "", "pw-for-tests-1")
    client.login(username="root", password="pw-for-tests-1")
    client.defaults["REMOTE_ADDR"] = STAFF_ADDRESS
    return client


def admin_url(app: str, model: str, pk, view: str) -> str:
    """The admin's own link: it escapes "_" in ids, so a bare id may name another row."""
    return f"/admin/{app}/{model}/{quote(str(pk))}/{view}/"


def change_form_data(page) -> dict:
    """What the browser would post back unchanged from an admin change page."""
    assert page.status_code == 200, (page.status_code, page.get("Location"), page.content[:300])
    data = {"_save": "Save"}

    def add(form) -> None:
        for name, field in form.fields.items():
            if field.disabled:
                continue
            value = form[name].value()
            if value is None or value is False:
                continue
            if isinstance(field.widget, MultiWidget):  # date and time in two inputs
                for index, part in enumerate(field.widget.decompress(value)):
                    data[f"{form.add_prefix(name)}_{index}"] = part
                continue
            data[form.add_prefix(name)] = "on" if value is True else value

    add(page.context["adminform"].form)
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        add(formset.management_form)
        for form in formset.forms:
            add(form)
    return data


def post_change(admin_client, url: str, **changes):
    data = change_form_data(admin_client.get(url))
    data.update(changes)
    response = admin_client.post(url, data)
    assert response.status_code == 302, form_errors(response)
    return response


def form_errors(page) -> list:
    inlines = page.context["inline_admin_formsets"]
    return [page.context["adminform"].form.errors] + [
        (i.formset.errors, i.formset.non_form_errors()) for i in inlines
    ]


def leaks(entry: AuditEntry, *secrets: str) -> bool:
    text = json.dumps([entry.details, entry.before, entry.after])
    return any(secret and secret in text for secret in secrets)


def test_a_scope_change_is_recorded_with_before_and_after(admin_client, acme):
    client, secret = acme.client, acme.secret
    url = admin_url("fleet", "apiclient", client.client_id, "change")
    post_change(admin_client, url, scopes='["read"]')

    entry = AuditEntry.objects.get(action="update", resource_type="client")
    assert entry.resource_id == client.client_id
    assert entry.actor == "user:root"
    assert entry.operator_id == client.operator_id
    assert entry.ip == STAFF_ADDRESS
    assert entry.before == {"scopes": ["read", "write"], "secret_version": 1}
    assert entry.after == {"scopes": ["read"], "secret_version": 2}  # tokens revoked
    assert entry.details["via"] == "admin"
    assert not leaks(entry, secret, client.secret_hash, client.secret_sealed)


@pytest.mark.parametrize("scopes", ['["admin"]', '"read"', "[1, 2]", "[]", '{"read": 1}'])
def test_bad_scopes_are_a_form_error_and_change_nothing(admin_client, acme, scopes):
    client = acme.client
    url = admin_url("fleet", "apiclient", client.client_id, "change")
    data = change_form_data(admin_client.get(url))
    data["scopes"] = scopes
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert "scopes" in response.context["adminform"].form.errors
    client.refresh_from_db()
    assert client.scopes == ["read", "write"]
    assert not AuditEntry.objects.filter(action="update").exists()


def test_an_overlong_callback_url_is_a_form_error(admin_client, acme):
    client = acme.client
    url = admin_url("fleet", "apiclient", client.client_id, "change")
    data = change_form_data(admin_client.get(url))
    data["legacy_callback_url"] = "https://peer.example/" + "a" * 300
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert "legacy_callback_url" in response.context["adminform"].form.errors


def test_deactivating_a_client_is_recorded(admin_client, acme):
    client = acme.client
    data = change_form_data(
        admin_client.get(admin_url("fleet", "apiclient", client.client_id, "change"))
    )
    del data["is_active"]  # an unticked checkbox is not posted
    admin_client.post(admin_url("fleet", "apiclient", client.client_id, "change"), data)

    entry = AuditEntry.objects.get(action="update", resource_type="client")
    # The credential version goes up with it: the client's earlier tokens are revoked.
    assert (entry.before, entry.after) == (
        {"is_active": True, "secret_version": 1},
        {"is_active": False, "secret_version": 2},
    )


def test_saving_without_changes_records_nothing(admin_client, acme):
    client = acme.client
    post_change(admin_client, admin_url("fleet", "apiclient", client.client_id, "change"))
    assert not AuditEntry.objects.filter(action="update").exists()


def test_a_secret_rotation_shows_that_the_secret_changed_never_the_secret(admin_client, acme):
    client, old_secret = acme.client, acme.secret
    response = admin_client.post(
        "/admin/fleet/apiclient/",
        {"action": "rotate_secret", "_selected_action": [client.client_id]},
        follow=True,
    )
    new_secret = next(str(m) for m in response.context["messages"]).rsplit(" ", 1)[-1]
    client.refresh_from_db()
    assert client.check_secret(new_secret)

    entry = AuditEntry.objects.get(action="rotate_secret")
    assert (entry.actor, entry.operator_id, entry.ip) == (
        "user:root",
        client.operator_id,
        STAFF_ADDRESS,
    )
    assert entry.before["secret_version"] == 1
    assert entry.after["secret_version"] == 2
    assert entry.before["secret_hash"] == entry.after["secret_hash"] == "[redacted]"
    assert entry.after["secret_sealed"] == "[redacted]"
    assert not leaks(entry, old_secret, new_secret, client.secret_hash, client.secret_sealed)


def test_creating_a_client_records_it_without_its_secret(admin_client, acme):
    operator_id = acme[0].operator_id
    response = admin_client.post(
        "/admin/fleet/apiclient/add/",
        {"operator": operator_id, "name": "Second", "scopes": '["read"]', "is_active": "on"},
        follow=True,
    )
    secret = next(str(m) for m in response.context["messages"]).rsplit(" ", 1)[-1]
    created = ApiClient.objects.get(name="Second")

    entry = AuditEntry.objects.get(action="create", resource_id=created.client_id)
    assert entry.resource_type == "client"
    assert entry.operator_id == operator_id
    assert entry.before is None
    assert entry.after["scopes"] == ["read"]
    assert entry.after["secret_hash"] == "[redacted]"
    assert not leaks(entry, secret, created.secret_hash, created.secret_sealed)


def test_a_credential_reset_is_recorded_for_the_devices_operator(
    admin_client, acme, assigned_device
):
    device = assigned_device(acme[0])
    admin_client.post(
        "/admin/fleet/device/",
        {"action": "reset_credentials", "_selected_action": [device.device_id]},
    )
    device.refresh_from_db()

    entry = AuditEntry.objects.get(action="reset_credentials")
    assert (entry.resource_type, entry.resource_id) == ("device", device.device_id)
    assert (entry.actor, entry.operator_id, entry.ip) == (
        "user:root",
        acme[0].operator_id,
        STAFF_ADDRESS,
    )
    assert (entry.before["credential_version"], entry.after["credential_version"]) == (1, 2)
    assert entry.after["secret_hash"] == "[redacted]"
    assert not leaks(entry, device.secret_hash)


def test_moving_a_device_to_another_operator_shows_in_both_trails(
    admin_client, acme, make_client, assigned_device, site_for
):
    device = assigned_device(acme[0])
    old_site = device.site_id
    rival, _ = make_client("Rival")
    new_site = site_for(rival, "Rival Depot")
    post_change(
        admin_client, admin_url("fleet", "device", device.device_id, "change"), site=new_site.pk
    )

    entries = AuditEntry.objects.filter(
        action="update", resource_type="device", details__via="admin"
    )
    assert sorted(entries.values_list("operator_id", flat=True)) == sorted(
        [acme[0].operator_id, rival.operator_id]
    )
    for entry in entries:
        assert (entry.before, entry.after) == ({"site": old_site}, {"site": new_site.site_id})
        assert entry.actor == "user:root"


def test_assigning_an_unassigned_device_shows_in_the_new_operators_trail(
    admin_client, acme, register_device, site_for
):
    device_id = register_device()["device_id"]
    site = site_for(acme[0])
    post_change(admin_client, admin_url("fleet", "device", device_id, "change"), site=site.pk)

    entry = AuditEntry.objects.get(action="update", resource_type="device")
    assert entry.operator_id == acme[0].operator_id
    assert (entry.before, entry.after) == ({"site": None}, {"site": site.site_id})


def test_an_inline_connector_edit_is_recorded_with_its_parent(admin_client, acme, assigned_device):
    device = assigned_device(acme[0])
    connector = device.connectors.create(connector_id=1, state="idle")
    url = admin_url("fleet", "device", device.device_id, "change")
    post_change(admin_client, url, **{"connectors-0-state": "unavailable"})

    entry = AuditEntry.objects.get(resource_type="connector")
    assert (entry.action, entry.resource_id) == ("update", str(connector.pk))
    assert entry.operator_id == acme[0].operator_id
    assert (entry.before, entry.after) == ({"state": "idle"}, {"state": "unavailable"})
    assert entry.details["parent"] == f"device:{device.device_id}"


def test_a_dictionary_edit_is_a_platform_wide_entry(admin_client):
    FaultCode.objects.create(
        code="E-0101", title="Ground fault", severity="error", category="electrical",
        description="Residual current above the limit.",
    )  # fmt: skip
    url = "/admin/diagnostics/faultcode/E-0101/change/"
    post_change(admin_client, url, title="Ground fault (RCD tripped)")

    entry = AuditEntry.objects.get(resource_type="fault_code")
    assert (entry.action, entry.resource_id, entry.operator_id) == ("update", "E-0101", None)
    assert entry.before == {"title": "Ground fault"}
    assert entry.after == {"title": "Ground fault (RCD tripped)"}
    assert (entry.actor, entry.ip) == ("user:root", STAFF_ADDRESS)


def test_retrying_a_dead_push_is_recorded(admin_client, acme, monkeypatch):
    monkeypatch.setattr("fleet.tasks.deliver_legacy_push.delay", lambda *a, **k: None)
    push = LegacyPush.objects.create(
        client=acme[0], kind="notify_work_status", method="POST", url="http://peer.test/x",
        payload={}, ordering_key="order:1", status="dead", attempts=6,
        next_attempt_at=timezone.now(),
    )  # fmt: skip
    admin_client.post(
        "/admin/fleet/legacypush/", {"action": "retry_dead", "_selected_action": [push.pk]}
    )

    entry = AuditEntry.objects.get(action="retry_push")
    assert (entry.resource_type, entry.resource_id) == ("legacy_push", str(push.pk))
    assert entry.operator_id == acme[0].operator_id
    assert (entry.before, entry.after) == ({"status": "dead"}, {"status": "pending"})


def test_deleting_a_site_keeps_what_it_was(admin_client, acme, site_for):
    site = site_for(acme[0], "Old Depot")
    admin_client.post(admin_url("fleet", "site", site.pk, "delete"), {"post": "yes"})
    assert not Site.objects.filter(pk=site.pk).exists()

    entry = AuditEntry.objects.get(action="delete")
    assert (entry.resource_type, entry.resource_id) == ("site", site.site_id)
    assert entry.operator_id == acme[0].operator_id
    assert entry.before["name"] == "Old Depot"
    assert entry.after is None


def test_deleting_an_operator_leaves_a_platform_wide_entry(admin_client, acme):
    operator_id = acme[0].operator_id
    admin_client.post(admin_url("fleet", "operator", operator_id, "delete"), {"post": "yes"})

    entry = AuditEntry.objects.get(action="delete", resource_type="operator")
    assert (entry.resource_id, entry.operator_id) == (operator_id, None)
    assert entry.before["name"] == "Acme Charging"


def test_making_a_user_an_operators_member_and_setting_a_password(admin_client, acme):
    User = get_user_model()
    user = User.objects.create_user("engineer", password="pw-for-tests-1")
    url = admin_url("auth", "user", user.pk, "change")
    data = change_form_data(admin_client.get(url))
    data.update({
        "operator_member-TOTAL_FORMS": "1",
        "operator_member-0-operator": acme[0].operator_id,
        "operator_member-0-role": "engineer",
        "operator_member-0-user": str(user.pk),
    })  # fmt: skip
    response = admin_client.post(url, data)
    assert response.status_code == 302, form_errors(response)
    assert OperatorMember.objects.get(user=user).operator_id == acme[0].operator_id

    member = AuditEntry.objects.get(resource_type="console_member")
    assert (member.action, member.operator_id) == ("create", acme[0].operator_id)
    assert member.after["operator"] == acme[0].operator_id
    assert member.after["role"] == "engineer"

    old_hash = user.password
    admin_client.post(
        admin_url("auth", "user", user.pk, "password"),
        {"password1": "another-pw-for-tests-2", "password2": "another-pw-for-tests-2",
         "set_usable_password": "true"},
    )  # fmt: skip
    user.refresh_from_db()
    assert user.password != old_hash
    entry = AuditEntry.objects.get(action="set_password")
    assert (entry.resource_type, entry.resource_id) == ("user", str(user.pk))
    assert entry.operator_id == acme[0].operator_id  # the operator sees its user's change
    assert entry.before == entry.after == {"password": "[redacted]"}
    assert not leaks(entry, old_hash, user.password, "another-pw-for-tests-2")


def test_the_trail_is_readable_in_the_admin_and_cannot_be_edited(admin_client, acme):
    post_change(
        admin_client, admin_url("fleet", "apiclient", acme[0].client_id, "change"), name="Renamed"
    )
    entry = AuditEntry.objects.get(action="update")

    assert admin_client.get("/admin/fleet/auditentry/").status_code == 200
    assert admin_client.get(admin_url("fleet", "auditentry", entry.pk, "change")).status_code == 200
    delete = admin_client.post(
        admin_url("fleet", "auditentry", entry.pk, "delete"), {"post": "yes"}
    )
    assert delete.status_code == 403
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_narrowing_scopes_in_the_admin_revokes_the_clients_tokens(
    admin_client, acme, api, operator_token, assigned_device, django_capture_on_commit_callbacks
):
    client, secret = acme.client, acme.secret
    token = operator_token(client, secret)
    device = assigned_device(client)
    url = admin_url("fleet", "apiclient", client.client_id, "change")
    with django_capture_on_commit_callbacks(execute=True):
        post_change(admin_client, url, scopes='["read"]')

    start = f"/v1/operator/devices/{device.device_id}/connectors/1/start"
    assert api.post(start, {}, token).json()["code"] == 2001
    assert api.get("/v1/operator/sites", operator_token(client, secret)).status_code == 200
