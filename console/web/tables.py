"""What every filtered, paged console table shares: the page of rows, how many pages, the
filters as a query string for the pager's links, and whether a request wants the table
alone (an HTMX swap) or the whole page."""

from collections.abc import Callable

from django import forms
from django.db.models import QuerySet
from django.http import HttpRequest

from fleet.models import Device
from fleet.queries.devices import device_by_reference
from fleet.queries.paging import Page, paginate


def wants_fragment(request: HttpRequest) -> bool:
    """An HTMX swap asks for the fragment alone; a history restore needs the whole page."""
    return bool(request.htmx) and not request.htmx.history_restore_request


def chosen_charger(operator_id: str, form: forms.Form, field: str = "device") -> Device | None:
    """The operator's charger a valid filter form names in `field` by its id or its serial
    number; None when it names none (a foreign or unknown one then matches nothing)."""
    if not form.is_valid():
        return None
    return device_by_reference(operator_id, form.cleaned_data.get(field) or "")


def with_charger(filters: dict, charger: Device | None, key: str = "device_id") -> dict:
    """The query's filters with the charger given by serial replaced by its id."""
    return {**filters, key: charger.device_id} if charger is not None else filters


def page_count(page: Page, size: int) -> int:
    return max(1, -(-page.total // size))


def filtered_table(form: forms.Form, rows: Callable[[], QuerySet], size: int) -> dict:
    """The table's context: `rows()` is called only once the filters are valid (an invalid
    form shows its errors and no rows); `page` is the form's own field."""
    if not form.is_valid():
        return {"form": form, "page": None, "pages": 0, "query": ""}
    page = paginate(rows(), form.cleaned_data["page"] or 1, size)
    query = form.data.copy()
    query.pop("page", None)
    return {"form": form, "page": page, "pages": page_count(page, size), "query": query.urlencode()}


def filtered(form: forms.Form) -> bool:
    """Whether the request narrows the rows (a sort or a page alone does not)."""
    return any(value for name, value in form.data.items() if name not in ("sort", "page"))


def sort_headers(form: forms.Form, sorts: dict[str, str], default: str) -> list[dict]:
    """Each sortable column's header: its label, the link that sorts by it (ascending, or
    descending when it is already the ascending sort; the filters kept, back to page 1)
    and its aria-sort state."""
    current = (form.cleaned_data.get("sort") if form.is_valid() else "") or default
    if current.lstrip("-") not in sorts:  # an unknown sort: the query's default
        current = default
    headers = []
    for key, label in sorts.items():
        query = form.data.copy()
        query.pop("page", None)
        query["sort"] = f"-{key}" if current == key else key
        state = "ascending" if current == key else "descending" if current == f"-{key}" else None
        href = f"?{query.urlencode()}"
        headers.append({"key": key, "label": label, "href": href, "state": state})
    return headers
