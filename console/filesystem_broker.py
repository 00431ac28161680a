"""The embedded default's Celery broker: kombu's filesystem transport, with each message
written whole before it can be seen.

Kombu writes a message straight into its final name in the queue folder, and a reader
moves it away and reads it without taking the writer's lock; a reader in between reads an
empty or partial file, its JSON fails and the worker stops ("worker exited with status 1"
in `make run`, seen on a rerun with tasks queued). Here a message is written under a
scratch name no reader picks up (it has no ".<queue>.msg" suffix), then renamed into
place, which is atomic. Names carry a zero-padded time in nanoseconds, so the readers'
sorting by name is the order of sending.
"""

import os
import uuid
from time import monotonic_ns

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        """Put `payload` onto `queue`, whole or not at all."""
        name = f"{monotonic_ns():020d}_{uuid.uuid4()}.{queue}.msg"
        scratch = os.path.join(self.data_folder_out, f"writing-{uuid.uuid4().hex}")
        try:
            with open(scratch, "wb") as handle:
                handle.write(str_to_bytes(dumps(payload)))
            os.replace(scratch, os.path.join(self.data_folder_out, name))
        except OSError as exc:
            raise ChannelError(f"Cannot add a message to {queue!r}") from exc


class Transport(filesystem.Transport):
    Channel = Channel
