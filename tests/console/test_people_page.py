"""The People page: an operator's admin (or platform staff for the operator they chose)
lists, adds and changes the console users of that operator only, through the audited
services; every other role is refused and changes nothing."""

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.test import Client
from django.utils import timezone

from console.web.access import STAFF_OPERATOR_KEY
from console.web.models import OperatorMember
from fleet.models import AuditEntry

pytestmark = pytest.mark.django_db

User = get_user_model()


@pytest.fixture
def operators(make_client):
    acme, _ = make_client("Acme Charging")
    rival, _ = make_client("Rival Energy")
    return acme.operator, rival.operator


@pytest.fixture
def admin(operators, signed_in) -> Client:
    return signed_in("Acme Charging", "admin", username="boss")


@pytest.fixture
def anna(operators, console_user):
    return console_user("anna", "Acme Charging", "viewer")


@pytest.fixture
def rex(operators, console_user):
    """Someone of another operator."""
    return console_user("rex", "Rival Energy", "admin")


def role_of(user) -> str:
    return OperatorMember.objects.get(user=user).role


def changes_by(username: str):
    return AuditEntry.objects.filter(actor=f"user:{username}", action__in=["create", "update"])


def add(browser: Client, **fields):
    return browser.post("/people/new/", {"role": "viewer", "password": "", **fields})


# Listing


def test_the_admin_sees_their_operators_people_and_nobody_elses(admin, anna, rex):
    User.objects.filter(pk=anna.pk).update(last_login=timezone.now())
    response = admin.get("/people/")
    html = response.content.decode()
    assert response.status_code == 200
    assert [m.user.username for m in response.context["page"].items] == ["anna", "boss"]
    assert "rex" not in html and "Rival" not in html
    assert 'id="member-' + str(anna.pk) + '"' in html
    anna.refresh_from_db()
    assert f'<time datetime="{anna.last_login:%Y-%m-%dT%H:%M:%S}' in html
    assert f'<time datetime="{anna.date_joined:%Y-%m-%dT%H:%M:%S}' in html
    assert "Viewer" in html and "active" in html
    assert "shown once" in html  # the form says a generated password is shown only once


def test_the_admin_has_no_controls_on_their_own_row(admin, anna):
    html = admin.get("/people/").content.decode()
    boss = User.objects.get(username="boss")
    assert f"/people/{anna.pk}/" in html
    assert f"/people/{boss.pk}/" not in html
    assert "(you)" in html


def test_an_inactive_person_is_marked_in_words_not_colour_alone(admin, anna):
    User.objects.filter(pk=anna.pk).update(is_active=False)
    html = admin.get("/people/").content.decode()
    assert "access off" in html
    assert "Switch access back on" in html


def test_the_list_costs_a_bounded_number_of_queries(
    admin, console_user, django_assert_max_num_queries
):
    for n in range(30):
        console_user(f"person-{n:02}", "Acme Charging", ["viewer", "engineer", "operator"][n % 3])
    with django_assert_max_num_queries(9):  # 8, and the operators' sign-in domains
        response = admin.get("/people/")
    assert response.status_code == 200
    assert len(response.context["page"].items) == 31


def test_people_are_paged_and_htmx_gets_the_table_alone(admin, console_user):
    for n in range(55):
        console_user(f"person-{n:02}", "Acme Charging")
    first = admin.get("/people/")
    assert first.context["pages"] == 2 and len(first.context["page"].items) == 50
    second = admin.get("/people/?page=2", HTTP_HX_REQUEST="true")
    html = second.content.decode()
    assert second.status_code == 200
    assert html.lstrip().startswith('<div id="member-table"') and "<html" not in html
    shown = [f"person-{n:02}" for n in range(49, 55)]  # boss sorts first, on page 1
    assert all(name in html for name in shown)
    assert "person-48" not in html and "boss" not in html


# Adding


def test_the_admin_adds_a_person_whose_generated_password_signs_in_and_is_shown_once(admin):
    response = add(admin, username="carla", role="engineer")
    html = response.content.decode()
    assert response.status_code == 200
    password = response.context["created"]["password"]
    assert password and password in html
    assert "carla@acme-charging</strong> can now sign in as Engineer" in html
    assert "no-store" in response["Cache-Control"]
    assert authenticate(username="carla@acme-charging", password=password) is not None
    assert role_of(User.objects.get(username="carla@acme-charging")) == "engineer"
    assert password not in admin.get("/people/").content.decode()


def test_adding_a_person_is_audited_with_the_admin_as_actor(admin, operators):
    acme, _ = operators
    add(admin, username="carla", role="operator")
    entries = changes_by("boss").filter(action="create", operator_id=acme.operator_id)
    assert {e.resource_type for e in entries} >= {"user", "console_member"}
    assert all(e.details == {"via": "console"} for e in entries)


def test_a_chosen_password_is_used_and_not_shown_back(admin):
    response = add(admin, username="carla", password="long-enough-pass-9")
    assert response.context["created"]["password"] is None
    assert "long-enough-pass-9" not in response.content.decode()
    assert authenticate(username="carla@acme-charging", password="long-enough-pass-9")


@pytest.mark.parametrize(
    "fields, field, words",
    [
        ({"username": "CARLA"}, "username", "already exists"),
        ({"username": "carla@rival-energy"}, "username", "without @"),
        ({"username": "an na"}, "username", "letters, digits"),
        ({"username": "a\x00b"}, "username", "Null characters"),
        ({"username": "x" * 151}, "username", "at most 150"),
        ({"username": ""}, "username", "required"),
        ({"username": "carla", "password": "123"}, "password", "too short"),
        ({"username": "carla", "password": "password123"}, "password", "too common"),
        ({"username": "carla", "role": "root"}, "role", "valid choice"),
    ],
)
def test_bad_input_is_shown_on_the_form_and_adds_nobody(admin, anna, fields, field, words):
    assert add(admin, username="carla").status_code == 200
    AuditEntry.objects.all().delete()
    before = User.objects.count()
    response = add(admin, **fields)
    assert response.status_code == 400
    errors = " ".join(response.context["form"].errors.get(field, []))
    assert words in errors
    assert words in response.content.decode()
    assert User.objects.count() == before
    assert not changes_by("boss").exists()


# Changing


def test_the_admin_changes_a_role_audited_with_them_as_actor(admin, anna, operators):
    acme, _ = operators
    response = admin.post(f"/people/{anna.pk}/", {"role": "operator"}, follow=True)
    assert role_of(anna) == "operator"
    assert "anna is now Operator" in response.content.decode()
    entry = changes_by("boss").get(resource_type="console_member", action="update")
    assert (entry.before["role"], entry.after["role"]) == ("viewer", "operator")
    assert entry.operator_id == acme.operator_id


def test_switching_access_off_signs_the_person_out_and_on_again_lets_them_back(admin, anna):
    hers = Client()
    hers.force_login(anna)
    assert hers.get("/").status_code == 200

    response = admin.post(f"/people/{anna.pk}/", {"access": "off"}, follow=True)
    assert "signed out" in response.content.decode()
    anna.refresh_from_db()
    assert not anna.is_active
    assert hers.get("/")["Location"].startswith("/login/")
    assert changes_by("boss").filter(resource_type="user", action="update").exists()

    admin.post(f"/people/{anna.pk}/", {"access": "on"})
    anna.refresh_from_db()
    assert anna.is_active
    assert authenticate(username="anna", password="console-pass-123") is not None


def test_the_page_says_what_switching_access_off_does_before_it_is_done(admin, anna):
    html = admin.get("/people/").content.decode()
    assert "anna is signed out at once" in html
    assert "Switch off anna's access" in html


def test_an_admin_cannot_demote_or_switch_off_themselves(admin):
    boss = User.objects.get(username="boss")
    for change in ({"role": "viewer"}, {"access": "off"}):
        response = admin.post(f"/people/{boss.pk}/", change, follow=True)
        assert "Nothing changed" in response.content.decode()
    boss.refresh_from_db()
    assert boss.is_active and role_of(boss) == "admin"
    assert not changes_by("boss").exists()


def test_another_operators_person_or_an_unknown_id_is_not_found(admin, rex):
    assert admin.post(f"/people/{rex.pk}/", {"role": "viewer"}).status_code == 404
    assert admin.post(f"/people/{rex.pk}/", {"access": "off"}).status_code == 404
    assert admin.post("/people/999999/", {"role": "viewer"}).status_code == 404
    rex.refresh_from_db()
    assert rex.is_active and role_of(rex) == "admin"


@pytest.mark.parametrize("change", [{}, {"role": "root"}, {"access": "maybe"}])
def test_a_malformed_change_changes_nothing(admin, anna, change):
    response = admin.post(f"/people/{anna.pk}/", change, follow=True)
    assert "Nothing changed for anna" in response.content.decode()
    anna.refresh_from_db()
    assert anna.is_active and role_of(anna) == "viewer"
    assert not changes_by("boss").exists()


def test_a_change_to_what_already_is_records_nothing(admin, anna):
    response = admin.post(f"/people/{anna.pk}/", {"role": "viewer"}, follow=True)
    assert "already has that role" in response.content.decode()
    assert not changes_by("boss").exists()


def test_the_actions_only_accept_post(admin, anna):
    assert admin.get("/people/new/").status_code == 405
    assert admin.get(f"/people/{anna.pk}/").status_code == 405


# Who may


@pytest.mark.parametrize("role", ["viewer", "engineer", "operator"])
def test_other_roles_are_refused_everything_and_change_nothing(role, signed_in, anna):
    browser = signed_in("Acme Charging", role)
    users_before, audit_before = User.objects.count(), AuditEntry.objects.count()
    assert browser.get("/people/").status_code == 403
    assert add(browser, username="carla", role="admin").status_code == 403
    assert browser.post(f"/people/{anna.pk}/", {"role": "admin"}).status_code == 403
    assert browser.post(f"/people/{anna.pk}/", {"access": "off"}).status_code == 403
    anna.refresh_from_db()
    assert anna.is_active and role_of(anna) == "viewer"
    assert User.objects.count() == users_before
    assert AuditEntry.objects.count() == audit_before


def test_the_nav_links_to_people_for_admins_only(admin, signed_in):
    assert 'href="/people/"' in admin.get("/").content.decode()
    assert 'href="/people/"' not in signed_in("Acme Charging", "operator").get("/").content.decode()


def test_signed_out_visitors_are_sent_to_sign_in(client, operators):
    assert client.get("/people/")["Location"].startswith("/login/")
    assert client.post("/people/new/", {"username": "carla"})["Location"].startswith("/login/")
    assert not User.objects.filter(username="carla").exists()


def test_platform_staff_manage_the_people_of_the_operator_they_chose(operators, anna, rex):
    _acme, rival = operators
    staff = User.objects.create_user("root", password="staff-pass-123", is_staff=True)
    browser = Client()
    browser.force_login(staff)
    session = browser.session
    session[STAFF_OPERATOR_KEY] = rival.operator_id
    session.save()

    listed = browser.get("/people/")
    assert [m.user.username for m in listed.context["page"].items] == ["rex"]
    add(browser, username="rita", role="admin")  # rex, the only admin, may then step down
    rita = OperatorMember.objects.get(user__username="rita@rival-energy")
    assert rita.operator_id == rival.operator_id
    browser.post(f"/people/{rex.pk}/", {"role": "operator"})
    assert role_of(rex) == "operator"
    assert browser.post(f"/people/{anna.pk}/", {"role": "admin"}).status_code == 404
    assert changes_by("root").filter(operator_id=rival.operator_id).count() >= 3


# Names are the operator's own


def test_adding_a_name_another_operator_uses_answers_as_for_any_new_name(admin, rex, operators):
    """Nothing on the page tells whether another operator has someone of that name."""
    User.objects.create_user("carla@rival-energy", password="x-pass-12345")  # Rival's carla
    for taken_elsewhere in ("rex", "carla"):
        response = add(admin, username=taken_elsewhere)
        assert response.status_code == 200, response.context["form"].errors
        assert "already exists" not in response.content.decode()
        member = OperatorMember.objects.get(user__username=f"{taken_elsewhere}@acme-charging")
        assert member.operator_id == operators[0].operator_id
    # Taken is only ever said about the admin's own people, whom the page lists anyway.
    again = add(admin, username="Rex")
    assert again.status_code == 400
    assert "rex@acme-charging" in again.content.decode().lower()


def test_the_form_says_how_the_person_will_sign_in(admin):
    html = admin.get("/people/").content.decode()
    assert "@acme-charging" in html


def test_operators_whose_names_read_the_same_get_different_domains(make_client):
    from console.web.services.people import sign_in_domains

    first, _ = make_client("Volt Co")
    second, _ = make_client("volt-co")
    domains = sign_in_domains()
    mine, theirs = domains[first.operator_id], domains[second.operator_id]
    assert mine != theirs and mine.startswith("volt-co-") and theirs.startswith("volt-co-")
