"""The core never pulls in Textual: the server must run headless on a machine without a screen."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE = sorted(
    f"storage.{p.stem}" if p.parent.name == "storage" else f"app.{p.stem}"
    for p in [*ROOT.glob("storage/*.py"), *ROOT.glob("app/*.py")]
    if p.stem not in {"__main__", "tui_main"} and not p.stem.startswith("tui")
)


def test_core_modules_never_import_textual() -> None:
    assert "app.service" in CORE and "storage.db" in CORE
    code = (
        "import importlib, sys\n"
        f"for m in {CORE!r}: importlib.import_module(m)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('textual', 'textual_plotext', 'widgets'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"core imports UI modules: {out.stdout}"
