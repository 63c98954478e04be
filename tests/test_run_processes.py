"""The processes of runs, without the SDK: the supervisor and the sweep of leftovers.

The supervisor runs ``/bin/sh -c SCRIPT`` in place of the CLI, started by a
stand-in "server" process, exactly as the SDK starts the CLI through
:func:`app.processes.supervised`. Every process a test starts carries TAG_ENV,
so the test can see what is left.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.processes import (
    DB_ID_ENV,
    RUN_MARKER_ENV,
    SERVER_ID_ENV,
    find_run_processes,
    supervised,
    sweep_leftovers,
)
from app.supervisor import PARENT_ENV
from tests.processes import TAG_ENV, tagged_processes

GONE_WITHIN_SECONDS = 3.0


def wait_until(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.02)


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] not in "ZX"


@pytest.fixture
def tag() -> Iterator[str]:
    tag = uuid.uuid4().hex
    yield tag
    for pid, _ in tagged_processes(tag):  # whatever a failed test left
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def run_env(tag: str, **extra: str) -> dict[str, str]:
    return {**os.environ, TAG_ENV: tag, RUN_MARKER_ENV: uuid.uuid4().hex, **extra}


# --------------------------------------------------------------------------
# The supervisor as the SDK sees it: a CLI with the same pipes and exit status


def test_relays_pipes_and_exit_code(tag: str) -> None:
    out = subprocess.run(
        [supervised("/bin/sh"), "-c", "read x; echo got $x; echo oops >&2; exit 3"],
        input="hi\n",
        capture_output=True,
        text=True,
        timeout=20,
        env=run_env(tag, **{PARENT_ENV: str(os.getpid())}),
    )
    assert (out.returncode, out.stdout, out.stderr) == (3, "got hi\n", "oops\n")


def test_dies_of_the_signal_the_cli_died_of(tag: str) -> None:
    out = subprocess.run([supervised("/bin/sh"), "-c", "kill -KILL $$"], timeout=20, env=run_env(tag))
    assert out.returncode == -signal.SIGKILL


def test_the_cli_does_not_see_the_supervisors_variables(tag: str) -> None:
    env = run_env(tag, **{PARENT_ENV: str(os.getpid())})
    out = subprocess.run([supervised("/usr/bin/env")], capture_output=True, text=True, timeout=20, env=env)
    assert out.returncode == 0
    assert f"{RUN_MARKER_ENV}={env[RUN_MARKER_ENV]}" in out.stdout.splitlines()
    assert PARENT_ENV not in out.stdout


def test_a_cli_that_cannot_start_is_exit_127(tag: str) -> None:
    out = subprocess.run(
        [supervised("/nonexistent/claude")],
        capture_output=True,
        text=True,
        timeout=20,
        env=run_env(tag),
    )
    assert out.returncode == 127
    assert "cannot start /nonexistent/claude" in out.stderr


def test_what_the_cli_leaves_running_ends_with_it(tag: str) -> None:
    out = subprocess.run(
        [supervised("/bin/sh"), "-c", "sleep 60 & (setsid sleep 61 &); echo $!"],
        capture_output=True,
        text=True,
        timeout=20,
        env=run_env(tag),
    )
    assert out.returncode == 0
    assert not alive(int(out.stdout.strip()))
    assert tagged_processes(tag) == []


def test_sigterm_reaches_the_cli_which_may_exit_its_own_way(tag: str) -> None:
    proc = subprocess.Popen(
        [supervised("/bin/sh"), "-c", "trap 'echo bye; exit 7' TERM; echo up; sleep 60 & wait"],
        stdout=subprocess.PIPE,
        text=True,
        env=run_env(tag),
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "up\n"
    wait_until(lambda: any("sleep 60" in c for _, c in tagged_processes(tag)), 10, "sleep")
    proc.send_signal(signal.SIGTERM)  # what the SDK's close() does when the CLI lingers
    assert proc.wait(timeout=10) == 7
    assert proc.stdout.read() == "bye\n"
    assert tagged_processes(tag) == []


def test_the_server_dying_before_the_supervisor_watched_starts_nothing(tag: str, tmp_path: Path) -> None:
    flag = tmp_path / "started"
    out = subprocess.run(
        [supervised("/bin/sh"), "-c", f"touch '{flag}'"],
        timeout=20,
        env=run_env(tag, **{PARENT_ENV: "1"}),  # its parent is not the "server" it expects
    )
    assert out.returncode == 1
    assert not flag.exists()


# --------------------------------------------------------------------------
# kill -9 of the server: every kind of process the run started goes

STAND_IN_SERVER = f"""
import os, subprocess, sys, time
wrapper, script = sys.argv[1:]
env = {{**os.environ, "{PARENT_ENV}": str(os.getpid())}}
subprocess.Popen([wrapper, "-c", script], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
time.sleep(600)
"""

# A plain child, a child in a session of its own, an orphan (double fork), a
# process without the run marker, an orphan without it (found only because the
# supervisor is its subreaper), one that ignores SIGTERM, and side effects: a
# shell whose next command would run once its child is gone, and one that
# also ignores SIGTERM (the server is dead: it must get no chance to act).
RUN_SCRIPT = """
sleep 60 &
setsid sleep 61 &
(sleep 62 &)
env -u {marker} sleep 63 &
(setsid env -u {marker} sleep 66 &)
sh -c 'trap "" TERM; sleep 64' &
(sleep 2; touch '{flag}') &
sh -c 'trap "" TERM; env --default-signal=TERM sleep 67; touch {flag}' &
touch '{ready}'
exec sleep 65
"""


@pytest.mark.slow
@pytest.mark.parametrize("whole_group", [False, True], ids=["server-pid", "process-group"])
def test_kill_9_of_the_server_ends_every_process_of_the_run(
    tag: str, tmp_path: Path, whole_group: bool
) -> None:
    flag, ready = tmp_path / "side-effect", tmp_path / "ready"
    script = RUN_SCRIPT.format(marker=RUN_MARKER_ENV, flag=flag, ready=ready)
    env = run_env(tag)
    server = subprocess.Popen(
        [sys.executable, "-c", STAND_IN_SERVER, supervised("/bin/sh"), script],
        env=env,
        start_new_session=True,
    )
    try:
        wait_until(ready.exists, 20, "the run did not start")
        sleeps = {f"sleep {n}" for n in range(60, 68)}

        def running() -> dict[str, int]:
            return {c.strip(): p for p, c in tagged_processes(tag) if c.strip() in sleeps}

        wait_until(lambda: running().keys() == sleeps, 10, "the run's processes")
        unmarked = [running()[c] for c in ("sleep 63", "sleep 66")]
        assert not set(unmarked) & set(find_run_processes(env[RUN_MARKER_ENV]))

        killed = time.monotonic()
        if whole_group:
            os.killpg(server.pid, signal.SIGKILL)
        else:
            server.kill()
        server.wait(timeout=5)
        wait_until(lambda: tagged_processes(tag) == [], GONE_WITHIN_SECONDS, "processes left")
        time.sleep(max(0.0, killed + 3 - time.monotonic()))
        assert not flag.exists(), "a process of the run acted after the server died"
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


# --------------------------------------------------------------------------
# sweep_leftovers


def test_sweep_ends_the_runs_of_dead_servers_of_this_database_only(tag: str) -> None:
    def start(command: str, **labels: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            ["/bin/sh", "-c", command],
            env={**os.environ, TAG_ENV: tag, **labels},
            start_new_session=True,
        )

    dead = {DB_ID_ENV: "db-a", SERVER_ID_ENV: "srv-dead"}
    procs = {
        "dead with a child": start("sleep 60 & exec sleep 61", **dead),
        "dead, deaf to SIGTERM": start("trap '' TERM; exec sleep 62", **dead),
        "no server id": start("exec sleep 63", **{DB_ID_ENV: "db-a"}),
        "live server": start("exec sleep 64", **{DB_ID_ENV: "db-a", SERVER_ID_ENV: "srv-live"}),
        "other database": start("exec sleep 65", **{DB_ID_ENV: "db-b", SERVER_ID_ENV: "srv-dead"}),
    }
    try:

        def sleeping() -> dict[str, int]:
            return {c.strip(): p for p, c in tagged_processes(tag)}

        wait_until(
            lambda: sleeping().keys() == {f"sleep {n}" for n in range(60, 66)}, 10, "processes did not start"
        )
        child = sleeping()["sleep 60"]
        started = time.monotonic()

        swept = sweep_leftovers("db-a", {"srv-live", "srv-other"}, grace=0.5)

        assert time.monotonic() - started < 5
        expected = {
            child,
            *(procs[k].pid for k in ("dead with a child", "dead, deaf to SIGTERM", "no server id")),
        }
        assert set(swept) == expected
        assert not any(alive(pid) for pid in expected)
        assert alive(procs["live server"].pid) and alive(procs["other database"].pid)
        assert sweep_leftovers("db-a", {"srv-live"}) == []
    finally:
        for proc in procs.values():
            proc.kill()
            proc.wait()
