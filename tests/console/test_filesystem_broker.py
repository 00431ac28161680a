"""The embedded default's broker (console/filesystem_broker.py): a worker never reads a
message that is still being written, which stopped `make run`'s worker on a rerun."""

from queue import Empty

import pytest
from kombu import Connection
from kombu.transport import filesystem

from console import filesystem_broker


@pytest.fixture
def channel(tmp_path):
    folder = tmp_path / "queue"
    folder.mkdir()
    options = {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "control_folder": str(tmp_path),
        "store_processed": False,
    }
    with Connection(
        "filesystem://", transport="console.filesystem_broker:Transport",
        transport_options=options,
    ) as connection:  # fmt: skip
        yield connection.default_channel


def test_a_message_is_read_back_whole(channel):
    channel._put("celery", {"task": "fleet.sweep", "n": 1})
    assert channel._get("celery") == {"task": "fleet.sweep", "n": 1}
    with pytest.raises(Empty):
        channel._get("celery")


def test_a_reader_never_sees_a_message_being_written(channel, monkeypatch):
    seen_while_writing = []
    real_dumps = filesystem_broker.dumps

    def slow_dumps(payload):
        try:  # a worker polling while the message is being written
            seen_while_writing.append(channel._get("celery"))
        except Empty:
            pass
        return real_dumps(payload)

    # Wherever the channel serialises (ours, or kombu's own put if ours were dropped).
    monkeypatch.setattr(filesystem_broker, "dumps", slow_dumps)
    monkeypatch.setattr(filesystem, "dumps", slow_dumps)
    channel._put("celery", {"task": "fleet.sweep"})

    assert seen_while_writing == []
    assert channel._get("celery") == {"task": "fleet.sweep"}


def test_messages_are_read_in_the_order_they_were_sent(channel):
    for n in range(5):
        channel._put("celery", {"n": n})
    assert [channel._get("celery")["n"] for _ in range(5)] == [0, 1, 2, 3, 4]
