"""The processes of agent runs: started under a supervisor, found by marker, ended for sure.

Every run's CLI is started through :mod:`app.supervisor` (Linux): the run's
processes die with the server, even on ``kill -9`` of the server or of its
whole process group. Every run carries markers in its environment, which
everything it starts inherits:

``CRONAGENTS_RUN_ID``     unique per run: a cancel or timeout ends every process with it
``CRONAGENTS_DB_ID``      the database the run belongs to (set by the runner, via labels)
``CRONAGENTS_SERVER_ID``  the server that owns the run (set by the runner, via labels)

:func:`sweep_leftovers` ends the processes of a database's runs whose server
is no longer alive (at start-up, and when a lease expires). Finding processes
by marker reads ``/proc`` (Linux); every function here that scans it blocks,
so async callers use :func:`asyncio.to_thread` (as :func:`terminate_run` does).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shlex
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Collection, Iterable
from pathlib import Path

from app.claude_cli import bundled_cli
from app.supervisor import PARENT_ENV

__all__ = [
    "DB_ID_ENV",
    "RUN_MARKER_ENV",
    "SERVER_ID_ENV",
    "cli_path",
    "find_run_processes",
    "kill_run_sync",
    "run_env",
    "sweep_leftovers",
    "terminate_run",
]

RUN_MARKER_ENV = "CRONAGENTS_RUN_ID"
DB_ID_ENV = "CRONAGENTS_DB_ID"
SERVER_ID_ENV = "CRONAGENTS_SERVER_ID"
TERM_GRACE_SECONDS = 2.0
KILL_WAIT_SECONDS = 3.0
POLL_SECONDS = 0.05
SUPERVISOR = Path(__file__).with_name("supervisor.py")


# --------------------------------------------------------------------------
# Starting


def _private_dir() -> Path:
    directory = Path(tempfile.gettempdir()) / f"cronagents-{os.getuid()}"
    directory.mkdir(mode=0o700, exist_ok=True)
    info = directory.lstat()
    if info.st_uid != os.getuid() or info.st_mode & 0o022 or directory.is_symlink():
        raise OSError(f"{directory} is not a private directory")
    return directory


def supervised(cli: str) -> str:
    """A script that runs cli under the supervisor, with the arguments it is given."""
    script = (
        "#!/bin/sh\n"
        f"exec {shlex.quote(sys.executable)} -I -S {shlex.quote(str(SUPERVISOR))} "
        f'{RUN_MARKER_ENV} {shlex.quote(cli)} "$@"\n'
    )
    digest = hashlib.sha256(script.encode()).hexdigest()[:16]
    directory = _private_dir()
    path = directory / f"claude-supervised-{digest}.sh"
    if not path.exists():
        tmp = directory / f".{path.name}.{uuid.uuid4().hex}"
        tmp.write_text(script)
        tmp.chmod(0o700)
        os.replace(tmp, path)
    return str(path)


def cli_path() -> str | None:
    """The CLI to run (under the supervisor on Linux), or None for the SDK's own pick.

    Blocking (it may write the wrapper script): call it from a thread.
    """
    found = bundled_cli()
    cli = str(found) if found is not None else None
    if cli is None or not sys.platform.startswith("linux") or not sys.executable:
        return cli
    try:
        return supervised(cli)
    except OSError:
        return cli


def run_env(marker: str) -> dict[str, str]:
    """What a run's environment needs for its processes to be found and supervised."""
    return {RUN_MARKER_ENV: marker, PARENT_ENV: str(os.getpid())}


# --------------------------------------------------------------------------
# Finding


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, pgid) of a process, from /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[0], int(fields[2])


def _scan(match: Callable[[list[bytes]], bool]) -> list[int]:
    """Live (non-zombie) processes but this one whose environment entries match."""
    me = os.getpid()
    found: list[int] = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    for entry in entries:
        if not entry.isdigit() or int(entry) == me:
            continue
        pid = int(entry)
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if not match(environ.split(b"\0")):
            continue
        stat = _proc_stat(pid)
        if stat is not None and stat[0] not in ("Z", "X"):
            found.append(pid)
    return found


def find_run_processes(marker: str) -> list[int]:
    """Live processes whose environment carries this run's marker."""
    needle = f"{RUN_MARKER_ENV}={marker}".encode()
    return _scan(lambda env: needle in env)


def find_leftovers(db_id: str, live_server_ids: Collection[str]) -> list[int]:
    """Live processes of runs of this database whose server is not among the live ones."""
    needle = f"{DB_ID_ENV}={db_id}".encode()
    prefix = f"{SERVER_ID_ENV}=".encode()
    live = {s.encode() for s in live_server_ids}

    def match(env: list[bytes]) -> bool:
        if needle not in env:
            return False
        owner = next((e[len(prefix) :] for e in env if e.startswith(prefix)), None)
        return owner not in live

    return _scan(match)


# --------------------------------------------------------------------------
# Ending


def _signal_pids(pids: Iterable[int], sig: signal.Signals) -> None:
    """Send sig to each process, and to the process groups one of them leads."""
    pid_set = set(pids)
    own_group = os.getpgrp()
    for pid in pid_set:
        stat = _proc_stat(pid)
        if stat is not None and stat[1] in pid_set and stat[1] != own_group:
            with contextlib.suppress(OSError):
                os.killpg(stat[1], sig)
        with contextlib.suppress(OSError):
            os.kill(pid, sig)


def _signal_run(marker: str, sig: signal.Signals) -> list[int]:
    """Send sig to every process of the run (and their own process groups)."""
    pids = find_run_processes(marker)
    _signal_pids(pids, sig)
    return pids


def _end_sync(find: Callable[[], list[int]], grace: float, kill_wait: float) -> list[int]:
    """SIGTERM, wait up to grace, SIGKILL what is left (again until kill_wait is up);
    every pid signalled."""
    pids = find()
    if not pids:
        return []
    seen = set(pids)
    _signal_pids(pids, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while (left := find()) and time.monotonic() < deadline:
        seen.update(left)
        time.sleep(POLL_SECONDS)
    deadline = time.monotonic() + kill_wait
    while left:
        seen.update(left)
        _signal_pids(left, signal.SIGKILL)
        if time.monotonic() >= deadline:
            break
        time.sleep(POLL_SECONDS)
        left = find()
    return sorted(seen)


def kill_run_sync(marker: str) -> None:
    """Blocking SIGTERM, short wait, then SIGKILL once: last resort on a second cancel."""
    _end_sync(lambda: find_run_processes(marker), 0.5, 0)


def sweep_leftovers(
    db_id: str, live_server_ids: Collection[str], grace: float = TERM_GRACE_SECONDS
) -> list[int]:
    """End every process of a run of this database whose server is not live; their pids.

    A process belongs to such a run when its environment carries
    ``CRONAGENTS_DB_ID=db_id`` and its ``CRONAGENTS_SERVER_ID`` (if any) is not
    in ``live_server_ids``. Each gets SIGTERM (its process group too, when it
    leads one), then SIGKILL if still alive after ``grace`` seconds. Blocking:
    call it through :func:`asyncio.to_thread`.
    """
    return _end_sync(lambda: find_leftovers(db_id, live_server_ids), grace, KILL_WAIT_SECONDS)


async def terminate_run(marker: str) -> None:
    """SIGTERM every process of the run, SIGKILL what is left after a grace period."""
    if not await asyncio.to_thread(_signal_run, marker, signal.SIGTERM):
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TERM_GRACE_SECONDS
    while loop.time() < deadline:
        await asyncio.sleep(POLL_SECONDS)
        if not await asyncio.to_thread(find_run_processes, marker):
            return
    deadline = loop.time() + KILL_WAIT_SECONDS
    while await asyncio.to_thread(_signal_run, marker, signal.SIGKILL):
        if loop.time() > deadline:
            return
        await asyncio.sleep(POLL_SECONDS)
