"""The domain's event flow, declared once: what happens in the fleet that other parts
react to. Senders call `signal.send(sender=..., **arguments)`; the receivers are
connected in FleetConfig.ready(), so the services sending them need not import (and
cycle through) the services reacting."""

from django.dispatch import Signal

# A command's status changed (a charger's report, or the platform failing it). Sent
# inside the transaction that changed it. Arguments: command (fleet.models.Command).
command_changed = Signal()

# A charging session ended on a connector (a `stop` event or a charging record). Sent
# inside the transaction recording it. Arguments: device_id (str), connector_id (int).
session_ended = Signal()

# An outbox push to a legacy peer should be attempted now. Sent once the push (or its
# revival) is committed. Arguments: push_id (int, a fleet.models.LegacyPush pk).
legacy_push_due = Signal()

# A charger changed operator: it was assigned to a site of another operator (or taken off
# every site), or its site moved to another operator. Sent inside the transaction that
# changed it, by whatever path (the service, the admin, a management command). Arguments:
# device_ids (list[str]), operator_before (str | None), operator_after (str | None),
# actor (fleet.actors.Actor; the platform's when the path named nobody).
device_owner_changed = Signal()

# A firmware campaign or one of its chargers changed state. Sent once the change is
# committed (the console's live pages re-render on it). Arguments: campaign_id (str),
# operator_id (str).
firmware_campaign_changed = Signal()
