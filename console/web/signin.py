"""Signing in to the console, throttled.

Failed attempts are counted three ways: per username and address, per address (one
source trying many names) and per username (many sources trying one name). Whichever
bucket is full refuses further attempts until its window moves on; successful sign-ins
are not counted, so a guesser slows themselves and the real user is locked out at most
for the per-username window (TELLUS_RATE_CONSOLE_LOGIN_FAILURES_PER_USER, 5 minutes).
"""

from django import forms
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpResponse

from api import ratelimit
from fleet.actors import request_ip
from fleet.errors import TooManyRequests


def _buckets(username: str, address: str) -> list[tuple[str, tuple[str, ...]]]:
    name = username.strip().lower()[:150]
    return [
        ("console_login_failures", (name, address)),
        ("console_login_failures_per_address", (address,)),
        ("console_login_failures_per_user", (name,)),
    ]


class ThrottledAuthenticationForm(AuthenticationForm):
    throttled_for: int | None = None

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        address = request_ip(self.request) or "unknown"
        buckets = _buckets(username, address)
        try:
            for rate_class, identifiers in buckets:
                ratelimit.check(rate_class, *identifiers)
        except TooManyRequests as refused:
            self.throttled_for = int(refused.details["retry_after_seconds"])
            minutes = max(1, round(self.throttled_for / 60))
            raise forms.ValidationError(
                f"Too many failed sign-ins. Try again in about {minutes} minute"
                f"{'s' if minutes != 1 else ''}.",
                code="throttled",
            ) from None
        try:
            return super().clean()
        except forms.ValidationError:
            for rate_class, identifiers in buckets:
                try:
                    ratelimit.enforce(rate_class, *identifiers)
                except TooManyRequests:
                    pass  # full now: the next attempt is refused
            raise


class ConsoleLoginView(auth_views.LoginView):
    template_name = "console/account/login.html"
    authentication_form = ThrottledAuthenticationForm

    def form_invalid(self, form) -> HttpResponse:
        response = super().form_invalid(form)
        if form.throttled_for is not None:
            response.status_code = 429
            response["Retry-After"] = str(form.throttled_for)
        return response
