"""What the list partials (templates/console/list/) need beyond Django's tags: a row's
attribute named by its column (`{{ row|attribute:cell.attr }}`)."""

from django import template

register = template.Library()


@register.filter
def attribute(row: object, name: str) -> object:
    """The row's attribute or key `name` ("" when it has neither)."""
    if isinstance(row, dict):
        return row.get(name, "")
    return getattr(row, name, "")
