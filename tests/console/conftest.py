"""Console fixtures: operators with console users of each role, signed in."""

from collections.abc import Callable

import pytest
from django.test import Client

from tests import factories


@pytest.fixture
def console_user(db) -> Callable[..., object]:
    """A console user of the named operator with `role` (the operator must exist)."""
    return factories.console_user


@pytest.fixture
def signed_in(console_user) -> Callable[..., Client]:
    """A browser-like client signed in as a new user of `operator_name` with `role`."""

    def make(operator_name: str, role: str = "viewer", username: str | None = None) -> Client:
        user = console_user(
            username or f"{role}-{operator_name.split()[0].lower()}", operator_name, role
        )
        browser = Client()
        browser.force_login(user)
        return browser

    return make
