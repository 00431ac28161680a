"""The Django admin, for platform staff: the registrations of every app's models live here,
at the console, because an admin change is audited as the signed-in console user
(console/web/actors.py) and the domain apps below must not know about console users."""

from console.web.admin import diagnostics, fleet, users

__all__ = ["diagnostics", "fleet", "users"]
