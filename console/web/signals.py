"""Console sign-ins and sign-outs in the audit trail, in the trail of the user's operator
(platform staff, who have none, land in the platform-wide trail); a user switched off
loses every session (console/web/sessions.py)."""

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_save, pre_save

from console.web import sessions
from console.web.models import operator_id_for
from console.web.times import TIME_ZONE_KEY, zone_of
from fleet import signals as fleet_signals
from fleet.actors import Actor, request_ip
from fleet.live.messages import firmware_campaign_changed
from fleet.live.publish import publish_operator_message_sync
from fleet.services import audit


def _record(action: str, user, request, username: str) -> None:
    # Not the request's user: on a failed sign-in there is none, only the name typed.
    actor = Actor(
        "user",
        operator_id=operator_id_for(user),
        user_id=user.pk if user is not None else None,
        username=username,
        ip=request_ip(request),
    )
    audit.record(
        actor,
        action=action,
        resource_type="user",
        resource_id=str(user.pk) if user is not None else "",
    )


def record_login(sender, request, user, **kwargs) -> None:
    _record("login", user, request, user.get_username())


def remember_time_zone(sender, request, user, **kwargs) -> None:
    """The user's time zone kept in the session from sign-in on: pages read it there."""
    if request is not None and hasattr(request, "session"):
        request.session[TIME_ZONE_KEY] = zone_of(user)


def record_logout(sender, request, user, **kwargs) -> None:
    if user is not None:  # signing out without being signed in changes nothing
        _record("logout", user, request, user.get_username())


def record_login_failure(sender, credentials, request=None, **kwargs) -> None:
    # `credentials` comes already scrubbed by Django; only the username is kept. An
    # attempt on a known user shows in that user's operator trail.
    User = get_user_model()
    username = str(credentials.get(User.USERNAME_FIELD) or credentials.get("username") or "")
    user = (
        User._default_manager.filter(**{User.USERNAME_FIELD: username}).first()
        if username
        else None
    )
    _record("login_failed", user, request, username)


def note_switch_off(sender, instance, update_fields=None, **kwargs) -> None:
    """Before a user is saved: whether this save switches them off (from any path: the
    People page, the admin, a shell)."""
    instance._tellus_switched_off = False
    if instance.pk is None or instance.is_active:
        return
    if update_fields is not None and "is_active" not in update_fields:
        return
    was_active = sender._default_manager.filter(pk=instance.pk, is_active=True).exists()
    instance._tellus_switched_off = was_active


def end_sessions_when_switched_off(sender, instance, **kwargs) -> None:
    if getattr(instance, "_tellus_switched_off", False):
        instance._tellus_switched_off = False
        sessions.end_sessions(instance)


def push_campaign(sender, campaign_id: str, operator_id: str, **kwargs) -> None:
    """A campaign or one of its chargers changed (sent once committed): the operator's
    open Firmware and campaign pages redraw it (console/web/live_pages.py)."""
    if operator_id:
        publish_operator_message_sync(operator_id, firmware_campaign_changed(campaign_id))


def connect() -> None:
    User = get_user_model()
    pre_save.connect(note_switch_off, sender=User, dispatch_uid="tellus-note-switch-off")
    post_save.connect(
        end_sessions_when_switched_off, sender=User, dispatch_uid="tellus-end-sessions"
    )
    user_logged_in.connect(sessions.stamp, dispatch_uid="tellus-session-generation")
    user_logged_in.connect(record_login, dispatch_uid="tellus-audit-login")
    user_logged_in.connect(remember_time_zone, dispatch_uid="tellus-time-zone")
    user_logged_out.connect(record_logout, dispatch_uid="tellus-audit-logout")
    user_login_failed.connect(record_login_failure, dispatch_uid="tellus-audit-login-failed")
    fleet_signals.firmware_campaign_changed.connect(
        push_campaign, dispatch_uid="tellus-console-campaign-live"
    )
