"""Private files: everything cronagents keeps is readable by its user only.

Transcripts, tokens and logs can hold anything an agent read, so the data
directory, the database (with its ``-wal``/``-shm``), the log, the config and
the workspaces are created 0700 (directories) / 0600 (files), and existing
ones found wider are tightened at start. Files of other users are left alone.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def private_dir(path: Path) -> Path:
    """Create a directory (and missing parents) 0700, or tighten an existing one."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for directory in reversed(missing):
        directory.mkdir(mode=PRIVATE_DIR, exist_ok=True)
        directory.chmod(PRIVATE_DIR)  # mkdir's mode is filtered by the umask
    tighten(path)
    return path


def private_file(path: Path) -> Path:
    """Create an empty file 0600 if missing (its directory 0700 if missing), or tighten it."""
    if not path.parent.exists():
        private_dir(path.parent)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE))
    tighten(path)
    return path


def tighten_all(directories: Iterable[Path], files: Iterable[Path] = ()) -> None:
    """Tighten directories, what lies directly in each, and ``files`` (blocking).

    Directories that do not exist are left for whoever creates them (privately).
    """
    for directory in dict.fromkeys(directories):
        if not directory.is_dir():
            continue
        tighten(directory)
        for entry in directory.iterdir():
            tighten(entry)
    for path in files:
        tighten(path)


def tighten(path: Path) -> None:
    """Take group and other permissions away from a file or directory of ours."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    if info.st_uid == os.getuid() and info.st_mode & 0o077:
        path.chmod(stat.S_IMODE(info.st_mode) & 0o700)
