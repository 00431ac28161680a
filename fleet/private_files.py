"""Files that hold secrets (device secrets, generated passwords, the secret key): readable
and writable by their owner only (0600) from the moment they exist, and tightened when
found looser. Plain Python, no Django: the settings use it before apps are loaded."""

import os
import stat
from pathlib import Path

PRIVATE_MODE = 0o600


def make_private(path: Path) -> None:
    """Tighten an existing file to 0600 if its mode is looser (or just different)."""
    if path.exists() and stat.S_IMODE(path.stat().st_mode) != PRIVATE_MODE:
        path.chmod(PRIVATE_MODE)


def write_private(path: Path, text: str) -> None:
    """Replace the file's content atomically with `text`, in a file that is 0600 before a
    byte is written: a scratch file created with that mode (and fixed with fchmod if a
    crash left one behind with another), then renamed over the old file, so a crash
    mid-write leaves the previous content whole and no reader ever sees a looser mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(path.name + ".tmp")
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_MODE)
    try:
        os.fchmod(fd, PRIVATE_MODE)  # O_CREAT's mode applies only to a new file
        with os.fdopen(fd, "w") as handle:
            fd = -1
            handle.write(text)
    finally:
        if fd >= 0:
            os.close(fd)
    os.replace(scratch, path)


def create_private_once(path: Path, text: str) -> bool:
    """Write `text` into a new 0600 file unless the file exists (O_EXCL: two processes
    starting at once do not both write). Returns whether this call created it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
    except FileExistsError:
        make_private(path)
        return False
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return True
