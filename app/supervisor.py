"""The supervisor of one agent run's Claude Code CLI (Linux): nothing outlives the server.

Started by the SDK in place of the CLI, as ``python -I -S supervisor.py
MARKER_ENV CLI [ARG...]`` (standard library only, so it starts in about 10 ms),
with the server's pid in ``CRONAGENTS_SUPERVISOR_PARENT``. It

- asks the kernel for SIGTERM when its parent dies (``PR_SET_PDEATHSIG``) and
  checks the parent is still the expected one (the server may have died
  before the request), and becomes a child subreaper, so every orphaned
  descendant of the run is re-parented to it rather than to init;
- leaves the server's process group (``setsid``), so a kill of that group
  leaves it alive to clean up;
- starts the CLI as its child, in a process group of its own, with
  ``PR_SET_PDEATHSIG=SIGKILL`` (should the supervisor itself be killed), on
  the stdin/stdout/stderr it was given (the SDK's pipes), which it then
  closes for itself;
- on SIGTERM/SIGINT/SIGHUP from the SDK or a cancel, first freezes every
  process of the run (SIGSTOP, again until no new one appears), then sends
  that signal to the CLI's group and SIGTERM to every other descendant and
  every process carrying the run marker, then lets them all go on
  (SIGCONT): each one meets its signal before running another instruction,
  so no shell can go on to its next command because its child died first.
  SIGKILL follows for what is left after a short grace. When the CLI ends by
  itself, whatever it left running gets the same treatment;
- when the parent died (the death signal, or a poll finds a new parent), the
  frozen processes get SIGKILL at once: nobody is left to read what they
  would do, and a process that ignores SIGTERM must not act either;
- exits with the CLI's exit status (dying of the same signal if it did).

Signals are blocked and taken synchronously with ``sigtimedwait``: no handler
runs at an awkward moment, and none is lost between two checks.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import time

PARENT_ENV = "CRONAGENTS_SUPERVISOR_PARENT"
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT, signal.SIGHUP})
WATCHED = STOP_SIGNALS | {signal.SIGCHLD}
GRACE_SECONDS = 1.0
FREEZE_ROUNDS = 50
KILL_WAIT_SECONDS = 2.0
PARENT_POLL_SECONDS = 1.0
EXEC_FAILED = 127


def _prctl(option: int, arg: int) -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(option, arg, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, process group) of a process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2 :].split()
    return fields[0].decode(), int(fields[1]), int(fields[2])


def _carries(pid: int, needle: bytes) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return needle in f.read().split(b"\0")
    except OSError:
        return False


def run_processes(me: int, needle: bytes | None) -> dict[int, int]:
    """Live descendants of ``me`` and live processes whose environment holds ``needle``,
    each with its process group."""
    stats: dict[int, tuple[int, int]] = {}
    found: set[int] = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        pid = int(entry)
        info = _stat(pid)
        if info is None or info[0] in ("Z", "X"):
            continue
        stats[pid] = info[1], info[2]
        if needle is not None and _carries(pid, needle):
            found.add(pid)
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in stats.items():
        children.setdefault(parent, []).append(pid)
    todo = [me]
    while todo:
        for child in children.get(todo.pop(), ()):
            found.add(child)
            todo.append(child)
    return {pid: stats[pid][1] for pid in found}


class Supervisor:
    def __init__(self, cli_pid: int, needle: bytes | None) -> None:
        self.cli_pid = cli_pid
        self.needle = needle
        self.me = os.getpid()
        self.cli_status: int | None = None  # as os.waitstatus_to_exitcode gives it

    def reap(self) -> bool:
        """Reap every ended child; False once no child is left at all."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return False
            if pid == 0:
                return True
            if pid == self.cli_pid:
                self.cli_status = os.waitstatus_to_exitcode(status)

    def signal_all(self, sig: int, *, spare_cli_group: bool = False) -> bool:
        """Send sig to every process of the run (and the CLI's group); False if none is left."""
        if not spare_cli_group:
            with contextlib.suppress(OSError):
                os.killpg(self.cli_pid, sig)
        targets = run_processes(self.me, self.needle)
        for pid, group in targets.items():
            if not (spare_cli_group and group == self.cli_pid):
                with contextlib.suppress(OSError):
                    os.kill(pid, sig)
        return bool(targets)

    def wait_gone(self, seconds: float) -> bool:
        """Reap until no process of the run is left (True) or the time is up (False)."""
        deadline = time.monotonic() + seconds
        while True:
            gone = not run_processes(self.me, self.needle)
            self.reap()  # after the look: a child seen ended is reaped now, its status kept
            if gone:
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            signal.sigtimedwait({signal.SIGCHLD}, min(left, 0.05))

    def freeze(self) -> dict[int, int]:
        """SIGSTOP every process of the run, looking again until no new one appeared;
        the processes of the run (each with its process group)."""
        with contextlib.suppress(OSError):
            os.killpg(self.cli_pid, signal.SIGSTOP)
        stopped: set[int] = set()
        targets: dict[int, int] = {}
        for _ in range(FREEZE_ROUNDS):
            targets = run_processes(self.me, self.needle)
            fresh = [pid for pid in targets if pid not in stopped]
            if not fresh:
                break
            for pid in fresh:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGSTOP)
            stopped.update(fresh)
        return targets

    def end_all(self, first: int, *, at_once: bool = False) -> None:
        """Freeze the run; then SIGKILL to all (at_once), or the first signal to the CLI's
        group and SIGTERM to the rest, all let go together, and SIGKILL after the grace."""
        frozen = self.freeze()
        if at_once:
            self.signal_all(signal.SIGKILL)
        else:
            with contextlib.suppress(OSError):
                os.killpg(self.cli_pid, first)
            self.signal_all(signal.SIGTERM, spare_cli_group=True)
        with contextlib.suppress(OSError):
            os.killpg(self.cli_pid, signal.SIGCONT)
        for pid in frozen:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGCONT)
        if not frozen:
            self.wait_gone(0)
            return
        if self.wait_gone(GRACE_SECONDS):
            return
        deadline = time.monotonic() + KILL_WAIT_SECONDS
        while self.signal_all(signal.SIGKILL) and time.monotonic() < deadline:
            self.wait_gone(0.05)
        self.reap()

    def run(self, parent: int) -> int | None:
        """Supervise until the CLI ended (its status) or a stop (None)."""
        while self.cli_status is None:
            info = signal.sigtimedwait(WATCHED, PARENT_POLL_SECONDS)
            orphaned = bool(parent) and os.getppid() != parent
            if info is None:
                if orphaned:  # no death signal (e.g. prctl refused)
                    self.end_all(signal.SIGKILL, at_once=True)
                    return self.cli_status
            elif info.si_signo == signal.SIGCHLD:
                self.reap()
            else:
                self.end_all(info.si_signo, at_once=orphaned)
                return self.cli_status
        if self.reap():  # the CLI left something running
            self.end_all(signal.SIGTERM)
        return self.cli_status


def _exec_cli(cli: str, args: list[str], supervisor: int) -> None:
    """In the forked child: own process group, die with the supervisor, exec the CLI."""
    try:
        os.setpgid(0, 0)
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != supervisor:
            os._exit(EXEC_FAILED)
        # As subprocess does: what Python ignores, the CLI gets back by default.
        for sig in (signal.SIGPIPE, signal.SIGXFSZ):
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, set())
        os.execv(cli, [cli, *args])  # noqa: S606 (the CLI itself, as the SDK asked)
    except BaseException as exc:
        with contextlib.suppress(BaseException):
            os.write(2, f"cronagents supervisor: cannot start {cli}: {exc}\n".encode())
    os._exit(EXEC_FAILED)


def _exit_like(status: int) -> int:
    """Exit with a child's status: the same code, or death by the same signal."""
    if status >= 0:
        return status
    sig = -status
    with contextlib.suppress(OSError, ValueError):
        signal.signal(sig, signal.SIG_DFL)  # refused for SIGKILL, which needs none
    with contextlib.suppress(OSError, ValueError):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {sig})
        os.kill(os.getpid(), sig)
    return 128 + sig


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        os.write(2, b"usage: supervisor.py MARKER_ENV CLI [ARG...]\n")
        return 2
    marker_env, cli, args = argv[1], argv[2], argv[3:]
    parent = int(os.environ.pop(PARENT_ENV, "0") or 0)
    marker = os.environ.get(marker_env)
    needle = f"{marker_env}={marker}".encode() if marker else None

    signal.pthread_sigmask(signal.SIG_BLOCK, WATCHED)
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    with contextlib.suppress(OSError):
        os.setsid()
    if parent and os.getppid() != parent:
        return 1  # the server died before it could be watched: start nothing
    me = os.getpid()
    cli_pid = os.fork()
    if cli_pid == 0:
        _exec_cli(cli, args, me)
    with contextlib.suppress(OSError):
        os.setpgid(cli_pid, cli_pid)  # also here: no window where a killpg misses it
    # The SDK's pipes are the CLI's now; the supervisor never reads or writes them.
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)

    status = Supervisor(cli_pid, needle).run(parent)
    return _exit_like(status) if status is not None else 128 + signal.SIGTERM


if __name__ == "__main__":
    sys.exit(main(sys.argv))
