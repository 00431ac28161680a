"""Console roles, each including everything the one before it may do:

- viewer: sees the operator's fleet;
- engineer: also runs runbooks, acknowledges alerts, sends low-risk diagnostic commands;
- operator: also remote commands, schedules, flexibility, medium-risk diagnostics;
- admin: also manages the console users of their own operator.

Platform staff (`is_staff`, no operator) act as admin for whichever operator they chose.
"""

from django.db import models


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    ENGINEER = "engineer", "Engineer"
    OPERATOR = "operator", "Operator"
    ADMIN = "admin", "Admin"


RANK = {Role.VIEWER: 0, Role.ENGINEER: 1, Role.OPERATOR: 2, Role.ADMIN: 3}


def allows(role: str | None, needed: str) -> bool:
    """Whether `role` may do what needs `needed`; an unknown or missing role may do nothing."""
    if role not in RANK:
        return False
    return RANK[Role(role)] >= RANK[Role(needed)]
