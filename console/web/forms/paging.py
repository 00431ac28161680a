"""The page asked for of a list that has no filters (People, Runbooks)."""

from django import forms

MAX_PAGE = 1_000  # tens of rows a page: further than anyone pages by hand


class PageForm(forms.Form):
    page = forms.IntegerField(required=False, min_value=1, max_value=MAX_PAGE)
