"""`make check` inside the test suite, so CI (which runs the suite) keeps the code to its rules:
ruff's lint and format, strict mypy, and the import contracts (the layers)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PATHS = ["app", "storage", "widgets", "tests", "bench"]
LINT_IMPORTS = "from importlinter.cli import lint_imports_command; lint_imports_command()"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)


@pytest.mark.parametrize(
    "command",
    [
        pytest.param([sys.executable, "-m", "ruff", "check", *PATHS], id="ruff-check"),
        pytest.param([sys.executable, "-m", "ruff", "format", "--check", *PATHS], id="ruff-format"),
        pytest.param([sys.executable, "-m", "mypy"], id="mypy-strict"),
        pytest.param([sys.executable, "-c", LINT_IMPORTS], id="import-layers"),
    ],
)
def test_the_code_keeps_its_rules(command: list[str]) -> None:
    result = run(*command)
    assert result.returncode == 0, f"{' '.join(command[2:])} failed:\n{result.stdout}\n{result.stderr}"
