"""Words for people in templates: who did something (`{{ label|who }}`, or
`{{ label|who:console }}` to name the operator's API clients), a runbook step by its title
(`{{ key|step_title:runbook }}`) and a diagnostics key in words (`{{ key|words }}`)."""

from django import template

from console.web.wording import actor_words, client_names
from diagnostics.words import words as key_words

register = template.Library()


@register.filter
def who(label: object, access: object = None) -> str:
    text = str(label or "")
    operator_id = getattr(access, "operator_id", None)
    return actor_words(text, client_names(operator_id, [text]))


@register.filter
def step_title(key: object, runbook: object = None) -> str:
    """A step's title; a key no step has (a run id, nothing) as it is."""
    if not key:
        return "start"
    step = runbook.step(str(key)) if hasattr(runbook, "step") else None
    return (step or {}).get("title") or str(key)


@register.filter
def words(key: object) -> str:
    return "" if key is None or key == "" else key_words(key)
