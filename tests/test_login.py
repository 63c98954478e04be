"""``cronagents login``: the bundled Claude Code CLI's own login flow, run in a real terminal."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07]*\x07|[78=>])")


def user_env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "user"
    (home / ".claude").mkdir(parents=True)
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "HOME": str(home),
        "CLAUDE_CONFIG_DIR": str(home / ".claude"),
        "BROWSER": "true",  # the CLI "opens" the login page with it: nothing opens
        "TERM": "xterm",
        "ANTHROPIC_API_KEY": "",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    }


def test_without_a_terminal_it_says_what_to_do_instead(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "app", "login"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env=user_env(tmp_path),
    )
    assert out.returncode == 2
    assert "_bundled/claude" in out.stderr
    assert str(tmp_path / "user" / ".claude") in out.stderr  # where the login is kept
    assert "ANTHROPIC_API_KEY=" in out.stderr and "CLAUDE_CODE_OAUTH_TOKEN=" in out.stderr
    assert "cronagents login --token" in out.stderr and "cronagents doctor" in out.stderr
    assert (
        out.stderr.strip().splitlines()[-1].endswith("needs a terminal (it asks for a code from the browser)")
    )


def login_screen(tmp_path: Path, *args: str, expect: str, timeout: float = 30) -> str:
    """Run ``cronagents login args`` in a pseudo-terminal until ``expect`` shows; what it wrote.
    The login is never completed: the process group is ended once the CLI asks for the code."""
    main_fd, child_fd = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "login", *args],
        cwd=ROOT,
        stdin=child_fd,
        stdout=child_fd,
        stderr=child_fd,
        env=user_env(tmp_path),
        start_new_session=True,
    )
    os.close(child_fd)
    seen = b""
    deadline = time.monotonic() + timeout
    try:
        while expect not in seen.decode(errors="replace") and time.monotonic() < deadline:
            ready, _, _ = select.select([main_fd], [], [], 0.2)
            if ready:
                try:
                    seen += os.read(main_fd, 65536)
                except OSError:
                    break
            elif proc.poll() is not None:
                break
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
        os.close(main_fd)
    return seen.decode(errors="replace")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "page"),
    [
        ([], "https://claude.ai/oauth/authorize"),
        (["--console"], "https://platform.claude.com/oauth/authorize"),
    ],
    ids=["subscription", "console"],
)
def test_it_runs_the_bundled_cli_s_login(tmp_path: Path, args: list[str], page: str) -> None:
    screen = login_screen(tmp_path, *args, expect=page)
    assert "Logging in with the Claude Code CLI bundled in cronagents" in screen
    assert page in ANSI.sub("", screen).split("Then check with")[-1], screen[-2000:]


@pytest.mark.slow
def test_token_runs_setup_token(tmp_path: Path) -> None:
    screen = login_screen(tmp_path, "--token", expect="https://claude.ai/oauth/authorize")
    assert "a long-lived token (the CLI prints it; nothing is stored)" in screen
    assert "https://claude.ai/oauth/authorize" in screen.split("Then check with")[-1], screen[-2000:]
