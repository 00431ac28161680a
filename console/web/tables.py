"""What every filtered, paged console table shares: the page of rows, how many pages, the
filters as a query string for the pager's links, and whether a request wants the table
alone (an HTMX swap) or the whole page.

A list page declares what it shows — a `ListPage` with its `Column`s and `Filter`s — and
`list_context` turns the declaration, the request's form and its page of rows into what the
shared partials under templates/console/list/ render: the filter form (filters.html), the
table with its sort links, rows and empty states (table.html) and the pager (pager.html).
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from django import forms
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from console.web.wording import form_problems
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


def shown_charger(charger: Device | None, field: str = "device") -> dict[str, str]:
    """The filter form shows a charger it found by its id under its serial number."""
    return {field: charger.sn} if charger is not None else {}


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


# --- Declaring a list page ----------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One column: its header, how its cell is rendered and whether it sorts.

    `cell` names a template fragment that renders the cell's content from `row` (a name
    alone is a fragment of the page's own template, "path#name" one of another template);
    without it the cell shows the row's attribute `attr`. `unit` is said once, in the
    header ("Capacity (kW)"), for a column of bare numbers."""

    label: str
    cell: str = ""
    attr: str = ""
    sort: str = ""  # the key of `?sort=`; empty for a column that does not sort
    unit: str = ""
    css: str = ""  # the class of the column's cells (num, nowrap…)
    row_header: bool = False  # the cell that names the row: <th scope="row">


@dataclass(frozen=True)
class Filter:
    """One field of the filter form, by the name of the form's field.

    A select's options are the form field's choices, or those the view passes for it
    (`choices=`, for values read from the database) after an `empty` first option."""

    name: str
    label: str
    kind: str = "text"  # text, select, number or datetime-local
    placeholder: str = ""
    css: str = ""
    attrs: tuple[tuple[str, str], ...] = ()  # further attributes of the input
    zoned: bool = False  # a time: the label names the console's time zone
    live: str = ""  # a text input filters "input" (as one types) or on "change"
    empty: str = ""  # the first option of choices the view passes ("Every site")
    hidden: tuple[str, ...] = ()  # choices the select does not offer
    default: str = ""  # the value shown when the request gives none
    help: str = ""  # read by screen readers only


@dataclass(frozen=True)
class ListPage:
    """A list page: where it lives, what its rows are called and what it shows."""

    url: str  # the page's URL name ("console:devices")
    template: str  # the page's template; it defines the `target` and `empty` fragments
    target: str  # the id of the swapped element and the name of its fragment
    noun: str  # one row ("charger"); `plural` when it is not noun + "s"
    label: str  # the table's name for assistive technology
    columns: tuple[Column, ...]
    filters: tuple[Filter, ...] = ()
    default_sort: str = ""
    csv: str = ""  # the URL name of the CSV export of the same selection
    csv_note: str = ""  # what the export holds, after "Download CSV —" (sorted: "in this order")
    no_match: str = ""  # what to try when the filters select nothing, before "Clear filters"
    row: str = ""  # a fragment rendering a row's <tr>s whole, instead of column by column
    table_class: str = ""
    tbody_id: str = ""
    form_class: str = ""
    plural: str = ""

    @property
    def rows_called(self) -> str:
        return self.plural or f"{self.noun}s"

    def fragment(self, name: str) -> str:
        return name if "#" in name else f"{self.template}#{name}"


def list_context(
    listing: ListPage,
    form: forms.Form,
    table: dict,
    choices: dict[str, Iterable[tuple[str, str]]] | None = None,
    shown: dict[str, str] | None = None,
) -> dict:
    """What the list's partials render: `table` (from filtered_table or the page's own)
    with the declaration, the headers, the filter fields and whether the rows are
    narrowed. `shown` replaces a field's value as typed (a charger given by id shown by
    its serial)."""
    page = table.get("page")
    return {
        **table,
        "listing": listing,
        "rows": table.get("rows", page.items if page is not None else []),
        "headers": column_headers(listing, form),
        # The filters without the page, for Previous / Next (`query` may carry the page).
        "pager_query": table.get("pager_query", table.get("query", "")),
        "row_template": listing.fragment(listing.row) if listing.row else "",
        "cells": [cell_of(listing, column) for column in listing.columns],
        "filter_fields": filter_fields(listing.filters, form, choices or {}, shown or {}),
        "filter_trigger": filter_trigger(listing.filters),
        "filtered": table.get("filtered", filtered(form)),
        "problems": table.get("problems") or refused(form),
    }


def render_list(request: HttpRequest, listing: ListPage, context: dict) -> HttpResponse:
    """The whole page, or its table alone for an HTMX swap."""
    if wants_fragment(request):
        return render(request, listing.fragment(listing.target), context)
    return render(request, listing.template, context)


def column_headers(listing: ListPage, form: forms.Form) -> list[dict]:
    """Each column's header; a sortable one links to its sort (sort_headers)."""
    sorts = {column.sort: column.label for column in listing.columns if column.sort}
    links = {h["key"]: h for h in sort_headers(form, sorts, listing.default_sort)} if sorts else {}
    headers = []
    for column in listing.columns:
        link = links.get(column.sort, {})
        headers.append(
            {
                "key": column.sort,
                "label": column.label,
                "unit": column.unit,
                "href": link.get("href", ""),
                "state": link.get("state"),
            }
        )
    return headers


def cell_of(listing: ListPage, column: Column) -> dict:
    return {
        "template": listing.fragment(column.cell) if column.cell else "",
        "attr": column.attr,
        "css": column.css,
        "row_header": column.row_header,
    }


def filter_fields(
    filters: Sequence[Filter],
    form: forms.Form,
    choices: dict[str, Iterable[tuple[str, str]]],
    shown: dict[str, str],
) -> list[dict]:
    """Each filter as the form renders it: its value as typed, its options with the one
    chosen, its other attributes, and whether the form refused it."""
    fields = []
    for declared in filters:
        name = declared.name
        value = shown.get(name) or str(form.data.get(name, "") or declared.default)
        options = []
        if declared.kind == "select":
            # A table swapped alone renders no form: the view reads no choices for it.
            offered = choices.get(name, getattr(form.fields[name], "choices", []))
            if declared.empty:
                offered = [("", declared.empty), *offered]
            options = [
                (str(key), label, value != "" and str(key) == value)
                for key, label in offered
                if key not in declared.hidden
            ]
        fields.append(
            {
                "name": name,
                "id": f"id_{name}",
                "label": declared.label,
                "kind": declared.kind,
                "value": value,
                "options": options,
                "attrs": input_attrs(declared, form.fields.get(name)),
                "zoned": declared.zoned,
                "help": declared.help,
                "invalid": bool(form.is_bound and form.errors.get(name)),
            }
        )
    return fields


def input_attrs(declared: Filter, form_field: forms.Field | None) -> list[tuple[str, str]]:
    attrs = []
    max_length = getattr(form_field, "max_length", None)
    if declared.kind == "text" and max_length:
        attrs.append(("maxlength", str(max_length)))
    if declared.placeholder:
        attrs.append(("placeholder", declared.placeholder))
    if declared.css:
        attrs.append(("class", declared.css))
    if declared.help:
        attrs.append(("aria-describedby", f"id_{declared.name}_help"))
    return [*attrs, *declared.attrs]


def refused(form: forms.Form) -> str:
    """What is wrong with the filters, in one line ("" when nothing is)."""
    return form_problems(form) if form.is_bound and not form.is_valid() else ""


def filter_trigger(filters: Sequence[Filter]) -> str:
    """When the form filters without its button: as one types in a text filter marked
    live "input", when one leaves one marked "change", and as soon as a select changes."""
    triggers = [
        f"input changed delay:400ms from:#id_{f.name}" for f in filters if f.live == "input"
    ]
    triggers += [f"change from:#id_{f.name}" for f in filters if f.live == "change"]
    if any(f.kind == "select" for f in filters):
        triggers.append("change from:select")
    return ", ".join([*triggers, "submit"])
