"""`{{ moment|at }}`: a moment as `<time>` in the reader's zone with the zone shown (the
console's one time rule, console/web/times.py). Styles: `at:"minute"`, `at:"time"`,
`at:"hour"`, `at:"date"`; `{{ moment|at_text }}` gives the same words without markup."""

from django import template

from console.web.times import moment_text, time_element

register = template.Library()


@register.filter(is_safe=True)
def at(value: object, style: str = "seconds") -> str:
    return time_element(value, style)


@register.filter
def at_text(value: object, style: str = "seconds") -> str:
    return moment_text(value, style)
