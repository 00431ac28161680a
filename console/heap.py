"""The collector settings the server runs with (console/asgi.py), in one place so that
anything measuring the server in process (bench/console_pages.py) runs with them too."""

import gc


def settle_heap() -> None:
    """Move everything loaded so far (the app and its imports live as long as the process)
    out of the collector's reach, and collect the young generation less often: full
    collections over a large heap were the main source of tail latency."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
