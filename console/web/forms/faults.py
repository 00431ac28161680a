"""The fault dictionary's filters: a category and a severity the dictionary uses, and
words to look for; checked like any other input."""

from django import forms

from console.web.forms.fleet import MAX_PAGE

PAGE_SIZE = 50  # the dictionary holds tens of entries: usually one page
SEARCH_MAX_LENGTH = 100
SEARCH_MAX_WORDS = 8


class FaultFilterForm(forms.Form):
    q = forms.CharField(
        required=False, max_length=SEARCH_MAX_LENGTH, strip=True, label="Code or words"
    )
    category = forms.ChoiceField(required=False, choices=[])
    severity = forms.ChoiceField(required=False, choices=[])
    page = forms.IntegerField(required=False, min_value=1, max_value=MAX_PAGE)

    def __init__(self, data=None, *, categories: list[str], severities: list[str]) -> None:
        super().__init__(data)
        self.fields["category"].choices = [("", "Any category")] + [
            (category, category.replace("_", " ")) for category in categories
        ]
        self.fields["severity"].choices = [("", "Any severity")] + [
            (severity, severity) for severity in severities
        ]

    def clean_q(self) -> str:
        words = self.cleaned_data["q"].split()
        if len(words) > SEARCH_MAX_WORDS:
            raise forms.ValidationError(f"Search with at most {SEARCH_MAX_WORDS} words.")
        return " ".join(words)

    def query_filters(self) -> dict:
        """Keyword arguments for `diagnostics.queries.faults.fault_codes` (after is_valid)."""
        data = self.cleaned_data
        return {
            "category": data.get("category") or None,
            "severity": data.get("severity") or None,
            "search": data.get("q") or None,
        }

    @property
    def filtered(self) -> bool:
        return any(self.query_filters().values())


class UndocumentedReportForm(forms.Form):
    """An undocumented code's report: which page of its occurrences, and whether as the
    JSON file to send to Tellus."""

    page = forms.IntegerField(required=False, min_value=1, max_value=MAX_PAGE)
    download = forms.ChoiceField(required=False, choices=[("", "the page"), ("json", "JSON")])

    def page_number(self) -> int:
        """The page asked for; the first when none or no valid one was."""
        return (self.cleaned_data.get("page") if self.is_valid() else None) or 1

    def wants_json(self) -> bool:
        return self.is_valid() and self.cleaned_data.get("download") == "json"
