"""Folders and files only the central's own user may read: the data folder (database with
password hashes and API tokens, every file received), the blob store and quarantine under
it, backups. Folders are made 0700 and files 0600; a server refuses to start when any of
them is wider, as it does for `web-secret.key`.

Reusable for every such folder: `make_private_dir()` when creating one, `check_private()`
before trusting one (e.g. `stax central backup --out DIR` calls both for DIR).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from shared.config import ConfigError

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
_OTHERS = 0o077  # group and other bits
_SHOWN = 5  # paths named in the refusal; the chmod command covers the rest


class TooOpen(ConfigError):
    """A private folder or file that other local users could read or change."""


def make_private_dir(path: Path) -> Path:
    """Create `path` (and missing parents) 0700 if it does not exist; return it.

    An existing folder is left as it is: `check_private` says whether it is too open,
    rather than this quietly changing what an operator set up."""
    path = Path(path)
    if not path.exists():
        path.mkdir(parents=True, mode=PRIVATE_DIR)
        os.chmod(path, PRIVATE_DIR)  # mkdir's mode is filtered by the umask; be exact
    return path


def create_private_file(path: Path) -> None:
    """Create an empty file 0600 if it does not exist (before a library writes it, so
    that it is never readable by others, not even for a moment)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        return
    os.close(fd)


def too_open(folder: Path) -> list[tuple[Path, int]]:
    """`folder` and everything in it (symbolic links not followed) with group or other
    permission bits, and their modes."""
    found: list[tuple[Path, int]] = []

    def look(path: Path) -> None:
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode):
            return
        if st.st_mode & _OTHERS:
            found.append((path, stat.S_IMODE(st.st_mode)))

    folder = Path(folder)
    look(folder)
    for root, dirs, files in os.walk(folder):
        for name in (*dirs, *files):
            look(Path(root) / name)
    return found


def check_private(folder: Path, what: str) -> None:
    """Raise TooOpen naming the paths and the command to fix them when `folder` or
    anything in it can be read or changed by other users. `what` names the folder in the
    message, e.g. "[storage] data_dir"."""
    folder = Path(folder)
    if not folder.exists():
        return
    found = too_open(folder)
    if not found:
        return
    shown = ", ".join(f"{p} (mode {m:o})" for p, m in found[:_SHOWN])
    more = f" and {len(found) - _SHOWN} more" if len(found) > _SHOWN else ""
    raise TooOpen(
        f"{folder}: {what} is readable by other users: {shown}{more}; it holds password "
        f"hashes, tokens and every file received. Run: chmod -R go-rwx {folder}"
    )
