"""The Claude Code CLI bundled in the claude-agent-sdk wheel, found and asked without importing the SDK.

Installing cronagents puts no ``claude`` on PATH: the CLI lives inside the
SDK's wheel (``claude_agent_sdk/_bundled/claude``). ``cronagents login`` runs
its own login flow, ``cronagents doctor`` asks it for its version and what
credentials it sees. Finding it reads the package's location only (no import
of the SDK, which takes most of a second).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["CliAnswer", "ask", "auth_status", "bundled_cli", "version"]

SDK_PACKAGE = "claude_agent_sdk"
ASK_TIMEOUT_SECONDS = 15.0


def bundled_cli() -> Path | None:
    """The bundled CLI binary, else a ``claude`` on PATH, else None."""
    name = "claude.exe" if sys.platform == "win32" else "claude"
    try:
        spec = importlib.util.find_spec(SDK_PACKAGE)
    except (ImportError, ValueError):
        spec = None
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        candidate = Path(location) / "_bundled" / name
        if candidate.is_file():
            return candidate
    found = shutil.which("claude")
    return Path(found) if found else None


@dataclass(frozen=True)
class CliAnswer:
    returncode: int | None  # None: it did not start, or did not answer in time
    stdout: str
    problem: str | None  # why there is no usable answer, in a few words


def ask(cli: Path, *args: str, timeout: float = ASK_TIMEOUT_SECONDS) -> CliAnswer:
    """Run ``cli args`` with this process's environment, no input, bounded in time."""
    try:
        done = subprocess.run(  # noqa: S603 - the bundled CLI, fixed arguments
            [str(cli), *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=os.environ.copy(),
            check=False,
        )
    except subprocess.TimeoutExpired:
        return CliAnswer(None, "", f"no answer within {timeout:g} s")
    except OSError as exc:
        return CliAnswer(None, "", f"it does not start ({exc.strerror or exc})")
    if done.returncode < 0:
        return CliAnswer(done.returncode, done.stdout, f"it was killed by signal {-done.returncode}")
    return CliAnswer(done.returncode, done.stdout, None)


def version(cli: Path, timeout: float = ASK_TIMEOUT_SECONDS) -> tuple[str | None, str | None]:
    """(``claude --version``'s answer, None), or (None, why it failed)."""
    answer = ask(cli, "--version", timeout=timeout)
    if answer.problem:
        return None, answer.problem
    text = answer.stdout.strip()
    if answer.returncode != 0 or not text:
        return None, f"`claude --version` exited with status {answer.returncode}"
    return text.splitlines()[0], None


def auth_status(cli: Path, timeout: float = ASK_TIMEOUT_SECONDS) -> dict[str, Any] | None:
    """``claude auth status --json``: what the CLI itself would log in with (no secrets in it);
    None when it gives no readable answer. Offline; the CLI may create its config file."""
    answer = ask(cli, "auth", "status", "--json", timeout=timeout)
    if answer.problem:
        return None
    try:
        doc = json.loads(answer.stdout)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None
