"""One throttle for every form that checks a password: the console's sign-in, the admin's
sign-in and the admin's own password change. A failure at any of them counts at all.

Failed attempts are counted per username and address, per address (one source trying
many names) and per username (many sources trying one name). Whichever bucket is full
refuses further attempts, even with the right password, until its window moves on;
successful attempts are not counted.

The per-username bucket would let anyone who knows a username keep its owner out, so it
binds only browsers the owner has not signed in from (OWASP, "Slow Down Online Guessing
Attacks with Device Cookies"): a successful sign-in gives the browser a signed, long-lived
device cookie naming the user. With a valid cookie for the username typed, the attempt is
counted in that cookie's own bucket instead of the username's; a cookie that keeps failing
fills its bucket and from then on exempts nothing. The per-address buckets bind everyone.
"""

import secrets
from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.admin.forms import AdminPasswordChangeForm as DjangoAdminPasswordChangeForm
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from fleet import ratelimit
from fleet.actors import request_ip
from fleet.errors import TooManyRequests

DEVICE_COOKIE = "tellus_device"
_DEVICE_SALT = "tellus.console.device-cookie"
_NONCE_BYTES = 18
# The request attribute through which a form tells its view what to add to the response.
_OUTCOME = "_tellus_password_outcome"

PER_NAME_AND_ADDRESS = "console_login_failures"
PER_ADDRESS = "console_login_failures_per_address"
PER_USER = "console_login_failures_per_user"
PER_DEVICE = "console_login_failures_per_device"


def normal_name(username: str) -> str:
    """The username as the buckets and device cookies know it (case does not matter)."""
    return (username or "").strip().lower()[:150]


def device_cookie_for(username: str) -> str:
    """A new device cookie value: the username and a random nonce, signed and dated."""
    payload = {"u": normal_name(username), "n": secrets.token_urlsafe(_NONCE_BYTES)}
    return signing.TimestampSigner(salt=_DEVICE_SALT).sign_object(payload)


def device_of(value: str | None, username: str) -> str | None:
    """The nonce of a device cookie valid for `username` (signed by us, unexpired, naming
    that user); None for a missing, forged, expired or another user's cookie."""
    if not value or len(value) > 512:
        return None
    try:
        payload = signing.TimestampSigner(salt=_DEVICE_SALT).unsign_object(
            value, max_age=settings.TELLUS_DEVICE_COOKIE_DAYS * 86400
        )
    except (signing.BadSignature, ValueError, TypeError, UnicodeError):
        return None
    if not isinstance(payload, dict) or payload.get("u") != normal_name(username):
        return None
    nonce = payload.get("n")
    return nonce if isinstance(nonce, str) and nonce else None


@dataclass
class _Outcome:
    retry_after: int | None = None
    device_cookie: str | None = None


def _outcome(request: HttpRequest) -> _Outcome:
    found = getattr(request, _OUTCOME, None)
    if found is None:
        found = _Outcome()
        setattr(request, _OUTCOME, found)
    return found


def _wait_words(seconds: int) -> str:
    minutes = max(1, round(seconds / 60))
    return f"about {minutes} minute{'s' if minutes != 1 else ''}"


class PasswordAttempt:
    """One try of a password for `username` from the request's browser and address."""

    def __init__(self, request: HttpRequest, username: str):
        self.request = request
        self.name = normal_name(username)
        self.address = request_ip(request) or "unknown"
        self.device = device_of(request.COOKIES.get(DEVICE_COOKIE), self.name)
        self.trusted = False

    def _buckets(self) -> list[tuple[str, tuple[str, ...]]]:
        buckets = [
            (PER_NAME_AND_ADDRESS, (self.name, self.address)),
            (PER_ADDRESS, (self.address,)),
        ]
        if self.trusted:
            buckets.append((PER_DEVICE, (self.device,)))
        else:
            buckets.append((PER_USER, (self.name,)))
        return buckets

    def check(self) -> None:
        """Refuse (a form error, and 429 with Retry-After on the response) when a bucket
        this attempt counts in is full."""
        self.trusted = False
        if self.device is not None:
            try:
                ratelimit.check(PER_DEVICE, self.device)
                self.trusted = True
            except TooManyRequests:
                pass  # a cookie that keeps failing no longer exempts its browser
        for rate_class, identifiers in self._buckets():
            try:
                ratelimit.check(rate_class, *identifiers)
            except TooManyRequests as refused:
                wait = int(refused.details["retry_after_seconds"])
                _outcome(self.request).retry_after = wait
                raise forms.ValidationError(
                    self._refusal(rate_class, wait), code="throttled"
                ) from None

    def _refusal(self, rate_class: str, wait: int) -> str:
        if rate_class == PER_USER:
            return (
                "Too many failed sign-ins for this username from browsers it has not "
                f"signed in from before. Try again in {_wait_words(wait)}, sign in from a "
                "browser you have signed in from before, or ask platform staff to unlock it."
            )
        if rate_class == PER_ADDRESS:
            return f"Too many failed sign-ins from your network. Try again in {_wait_words(wait)}."
        return f"Too many failed sign-ins. Try again in {_wait_words(wait)}."

    def failed(self) -> None:
        for rate_class, identifiers in self._buckets():
            try:
                ratelimit.enforce(rate_class, *identifiers)
            except TooManyRequests:
                pass  # full now: the next attempt is refused

    def signed_in(self, username: str) -> None:
        """The browser gets a (new) device cookie for this user."""
        _outcome(self.request).device_cookie = device_cookie_for(username)


def finish(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """What the password forms decided about the response: 429 and Retry-After for a
    refused attempt, the device cookie after a successful sign-in."""
    outcome = getattr(request, _OUTCOME, None)
    if outcome is None:
        return response
    if outcome.retry_after is not None and response.status_code == 200:
        response.status_code = 429
        response["Retry-After"] = str(outcome.retry_after)
    if outcome.device_cookie is not None:
        response.set_cookie(
            DEVICE_COOKIE,
            outcome.device_cookie,
            max_age=settings.TELLUS_DEVICE_COOKIE_DAYS * 86400,
            httponly=True,
            secure=settings.SESSION_COOKIE_SECURE or request.is_secure(),
            samesite="Lax",
        )
    return response


def unlock(username: str, address: str | None = None) -> None:
    """Staff lifting a lock-out: the username's bucket, and with an address that
    address's buckets for the username and for every name."""
    name = normal_name(username)
    ratelimit.clear(PER_USER, name)
    if address:
        ratelimit.clear(PER_NAME_AND_ADDRESS, name, address)
        ratelimit.clear(PER_ADDRESS, address)


class ThrottledSignInMixin:
    """For AuthenticationForm and its subclasses: the attempt is checked before the
    password, a wrong password is counted, a sign-in earns a device cookie."""

    def clean(self):
        attempt = PasswordAttempt(self.request, self.cleaned_data.get("username") or "")
        attempt.check()
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            if self.get_user() is None:  # a wrong password (not a right one refused)
                attempt.failed()
            raise
        if self.get_user() is not None:
            attempt.signed_in(self.get_user().get_username())
        return cleaned


class ThrottledAuthenticationForm(ThrottledSignInMixin, AuthenticationForm):
    pass


class ThrottledAdminAuthenticationForm(ThrottledSignInMixin, AdminAuthenticationForm):
    pass


class ThrottledAdminPasswordChangeForm(DjangoAdminPasswordChangeForm):
    """The admin's "change my password": the old password is a password check too."""

    def __init__(self, user, *args, request: HttpRequest, **kwargs):
        self.request = request
        super().__init__(user, *args, **kwargs)

    def clean_old_password(self):
        attempt = PasswordAttempt(self.request, self.user.get_username())
        attempt.check()
        try:
            return super().clean_old_password()
        except forms.ValidationError:
            attempt.failed()
            raise


class ConsoleLoginView(auth_views.LoginView):
    template_name = "console/account/login.html"
    authentication_form = ThrottledAuthenticationForm

    def post(self, request, *args, **kwargs) -> HttpResponse:
        return finish(request, super().post(request, *args, **kwargs))


def admin_login(request: HttpRequest) -> HttpResponse:
    """The admin's sign-in page, with the throttled form."""
    return finish(request, admin.site.login(request))


class _AdminPasswordChangeView(auth_views.PasswordChangeView):
    form_class = ThrottledAdminPasswordChangeForm

    def get_form_kwargs(self) -> dict:
        return {**super().get_form_kwargs(), "request": self.request}


def _admin_password_change(request: HttpRequest) -> HttpResponse:
    """AdminSite.password_change, with the throttled form."""
    request.current_app = admin.site.name
    view = _AdminPasswordChangeView.as_view(
        success_url=reverse("admin:password_change_done", current_app=admin.site.name),
        extra_context=admin.site.each_context(request),
    )
    return finish(request, view(request))


def admin_password_change(request: HttpRequest) -> HttpResponse:
    return admin.site.admin_view(_admin_password_change, cacheable=True)(request)
