"""Admin forms for the diagnostics content, in the shape it is written in the data files.

Lists of words or sentences are edited one item per line; nested content (diagnostic
steps, firmware issues, thresholds, runbook steps and ranking rules) as YAML, exactly as
in diagnostics/data. A save is refused unless the whole entry passes the same checks the
loader applies to the files, so the runbook engine never meets content it cannot run.
"""

import json
from typing import Any

import yaml
from django import forms

from diagnostics.models import FaultCode, Runbook
from diagnostics.services.loader import DiagnosticsDataError, fault_content, runbook_content

# Content is authored by staff, but a pasted document must still not exhaust memory.
MAX_CONTENT_CHARS = 200_000


class LinesField(forms.CharField):
    """A list of strings, one per line; blank lines are dropped."""

    widget = forms.Textarea(attrs={"rows": 5, "cols": 100})

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", MAX_CONTENT_CHARS)
        kwargs.setdefault("help_text", "One per line.")
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return "\n".join(str(item) for item in value)
        return value

    def clean(self, value: Any) -> list[str]:
        # CharField already refuses NUL characters and overlong text.
        text = super().clean(value)
        return [line.strip() for line in text.splitlines() if line.strip()]


class _NoAliasLoader(yaml.SafeLoader):
    """YAML without anchors and aliases: they add nothing to this content and let a
    few lines expand into gigabytes (the "billion laughs")."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.constructor.ConstructorError(
                None, None, "aliases (*name) are not allowed", event.start_mark
            )
        return super().compose_node(parent, index)


class YamlField(forms.CharField):
    """Nested content as YAML; stored as the JSON it denotes."""

    widget = forms.Textarea(attrs={"rows": 14, "cols": 100, "class": "tellus-yaml"})

    def __init__(self, *, shape: type, **kwargs: Any) -> None:
        self.shape = shape
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", MAX_CONTENT_CHARS)
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list | dict):
            if not value:
                return ""
            return yaml.safe_dump(value, sort_keys=False, allow_unicode=True, width=88)
        return value

    def clean(self, value: Any) -> Any:
        text = super().clean(value)
        try:
            data = yaml.load(text, Loader=_NoAliasLoader) if text.strip() else None  # noqa: S506 - a SafeLoader
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
            problem = getattr(error, "problem", None) or str(error)
            raise forms.ValidationError(f"Not valid YAML{where}: {problem}") from None
        if data is None:
            data = self.shape()
        if not isinstance(data, self.shape):
            kind = "a list (lines starting with '- ')" if self.shape is list else "a mapping"
            raise forms.ValidationError(f"Must be {kind}.")
        try:
            # Dates become ISO strings, as they would in JSON; NaN and infinities are refused.
            return json.loads(json.dumps(data, default=str, allow_nan=False))
        except ValueError:
            raise forms.ValidationError("Numbers must be finite (no .nan or .inf).") from None


class FaultCodeForm(forms.ModelForm):
    symptoms = LinesField()
    likely_causes = LinesField()
    diagnostic_steps = YamlField(
        shape=list,
        help_text="In order; each: text, on_site (true/false), proposed (true/false).",
    )
    related_telemetry = LinesField(help_text="Telemetry field names, one per line.")
    related_commands = LinesField(help_text="Command names, one per line.")
    known_firmware_issues = YamlField(
        shape=list,
        help_text="Each: summary, models, affected_from, affected_to, fixed_in (bounds inclusive).",
    )
    thresholds = YamlField(
        shape=dict, help_text="name: number, one per line; the unit is part of the name."
    )

    class Meta:
        model = FaultCode
        fields = ["code", *FaultCode.CONTENT_FIELDS]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        code = cleaned.get("code") or (self.instance.code if self.instance.pk else "")
        try:
            content = fault_content({"code": code, **cleaned})
        except DiagnosticsDataError as error:
            raise forms.ValidationError(str(error)) from None
        cleaned.update(content)
        return cleaned


class RunbookForm(forms.ModelForm):
    applicable_models = LinesField(help_text="Model names, one per line; none = every model.")
    linked_fault_codes = LinesField(help_text="Fault codes, one per line.")
    triggers = LinesField()
    escalation_checklist = LinesField(help_text="Checklist item names, one per line.")
    steps = YamlField(
        shape=list,
        required=True,
        help_text="Each step: key, title, instructions, on_site, depends_on, check, branches "
        "— as in diagnostics/data/runbooks.yaml.",
    )
    suggest_when = YamlField(
        shape=list,
        help_text="Ranking rules, each one condition and a score, "
        "e.g. {connector_state: [preparing], score: 4}.",
    )

    class Meta:
        model = Runbook
        fields = ["slug", *Runbook.CONTENT_FIELDS]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        slug = cleaned.get("slug") or (self.instance.slug if self.instance.pk else "")
        slugs = set(Runbook.objects.values_list("slug", flat=True)) | {slug}
        try:
            content = runbook_content({"slug": slug, **cleaned}, slugs)
        except DiagnosticsDataError as error:
            raise forms.ValidationError(str(error)) from None
        cleaned.update(content)
        return cleaned
