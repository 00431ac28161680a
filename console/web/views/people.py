"""The People page: an operator's admin sees who uses the console for their operator,
adds people and changes their role or access, through the same audited services as the
`create_console_user` command. Platform staff do the same for the operator they chose.

`member_id` in the URLs is the person's user id, as the services identify them."""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_POST, require_safe

from console.web.access import ConsoleAccess, console_view
from console.web.forms.paging import PageForm
from console.web.forms.people import PAGE_SIZE, MemberChangeForm, MemberCreateForm
from console.web.roles import Role
from console.web.services import people
from console.web.tables import (
    Column,
    ListPage,
    list_context,
    page_count,
    render_list,
    wants_fragment,
)
from fleet.errors import Conflict, InvalidParameter
from fleet.queries.paging import paginate

# What each role adds, in the words the page and its messages use.
ROLE_MEANING = {
    Role.VIEWER: "sees the fleet, alerts, commands and records",
    Role.ENGINEER: "also runs runbooks, acknowledges alerts and sends low-risk diagnostics",
    Role.OPERATOR: "also sends remote commands, schedules and flexibility requests",
    Role.ADMIN: "also adds people and changes their roles and access",
}


@require_safe
@console_view(needs=Role.ADMIN)
def member_list(request: HttpRequest, access: ConsoleAccess) -> HttpResponse:
    """The operator's people and the form to add one; an HTMX request gets the table."""
    if wants_fragment(request):
        return render_list(request, PEOPLE, member_table(request, access))
    return _page(request, access, MemberCreateForm())


@require_POST
@console_view(needs=Role.ADMIN)
def member_create(request: HttpRequest, access: ConsoleAccess) -> HttpResponse:
    """Add a person; a generated password is shown in this response only, never stored in
    a message cookie or the page a reload would fetch."""
    form = MemberCreateForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            user, password = people.add_member(
                access.actor,
                data["username"],
                access.operator,
                data["role"],
                password=data["password"] or None,
            )
        except (InvalidParameter, Conflict) as refused:
            form.add_refusal(refused)
        else:
            created = {
                "username": user.get_username(),
                "role": Role(data["role"]),
                "password": None if data["password"] else password,
            }
            response = _page(request, access, MemberCreateForm(), created=created)
            add_never_cache_headers(response)
            return response
    return _page(request, access, form, status=400)


@require_POST
@console_view(needs=Role.ADMIN)
def member_change(request: HttpRequest, access: ConsoleAccess, member_id: int) -> HttpResponse:
    """Change a person's role or switch their access off or on; the outcome is a message
    on the People page."""
    target = people.member(access.operator_id, member_id)  # another operator's: 404
    name = target.user.get_username()
    back = f"{reverse('console:people')}#member-{target.user_id}"
    form = MemberChangeForm(request.POST)
    if not form.is_valid():
        problems = " ".join(" ".join(errors) for errors in form.errors.values())
        messages.error(request, f"Nothing changed for {name}: {problems}")
        return redirect(back)
    changes = form.changes()
    if changes["role"] == target.role:
        changes["role"] = None
    if changes["active"] == target.user.is_active:
        changes["active"] = None
    if changes["role"] is None and changes["active"] is None:
        messages.info(request, f"Nothing changed: {name} already has that role and access.")
        return redirect(back)
    try:
        people.change_member(access.actor, access.operator_id, target.user_id, **changes)
    except (Conflict, InvalidParameter) as refused:
        if not _still_active(request.user):
            # Another admin switched this one off a moment ago, their sessions with it:
            # say so on the sign-in page (the message travels in a cookie).
            request.session.flush()
            messages.error(
                request,
                f"Nothing changed for {name}: another admin switched off your own access "
                "a moment before, so you are signed out.",
            )
            return redirect_to_login(back)
        messages.error(request, f"Nothing changed for {name}: {refused.message}.")
        return redirect(back)
    messages.success(request, _outcome(name, **changes))
    return redirect(back)


def _still_active(user) -> bool:
    return get_user_model()._default_manager.filter(pk=user.pk, is_active=True).exists()


def _outcome(name: str, role: str | None, active: bool | None) -> str:
    said = []
    if role is not None:
        said.append(f"{name} is now {Role(role).label}: {ROLE_MEANING[Role(role)]}.")
    if active is False:
        said.append(
            f"{name}'s access is off: they are signed out at their next page load and cannot "
            "sign in until an admin switches it back on."
        )
    elif active is True:
        said.append(f"{name}'s access is back on: they sign in with their existing password.")
    return " ".join(said)


# Each person's row carries its forms (role, access): the page renders it whole.
PEOPLE = ListPage(
    url="console:people",
    template="console/people/list.html",
    target="member-table",
    noun="person",
    plural="people",
    label="People table",
    table_class="people-table",
    columns=(
        Column("Username"),
        Column("Role"),
        Column("Access"),
        Column("Last sign-in"),
        Column("Joined"),
        Column("Change"),
    ),
    row="member-row",
)


def member_table(request: HttpRequest, access: ConsoleAccess) -> dict:
    paging = PageForm(request.GET)
    number = (paging.cleaned_data["page"] if paging.is_valid() else None) or 1
    page = paginate(people.members(access.operator_id), number, PAGE_SIZE)
    table = {"page": page, "pages": page_count(page, PAGE_SIZE), "query": ""}
    return {
        **list_context(PEOPLE, paging, table),
        "roles": Role.choices,
        "me": access.user.pk,
    }


def _page(
    request: HttpRequest,
    access: ConsoleAccess,
    form: MemberCreateForm,
    *,
    created: dict | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        **member_table(request, access),
        "form": form,
        "created": created,
        "role_meaning": [(Role(role).label, meaning) for role, meaning in ROLE_MEANING.items()],
        "sign_in_domain": people.sign_in_domains().get(access.operator_id, ""),
    }
    return render(request, "console/people/list.html", context, status=status)
