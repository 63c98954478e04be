"""``cronagents db copy --from PATH_OR_URL --to URL [--force]``: move to (or from) PostgreSQL.

The copy itself is :func:`storage.copy.copy_database`; this is the command
around it: both ends opened by their backends, a progress bar on standard
error, the counts checked, one line and exit 1 for any problem.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TextIO

from app.timeutil import now_ms
from storage.backend import describe, is_postgres, open_storage, sqlite_path
from storage.copy import BATCH_ROWS, copy_database
from storage.errors import StorageError

BAR_WIDTH = 30


class ProgressBar:
    """``runs  [#########.........]  31% 12,000/38,412`` redrawn in place on a terminal; on
    anything else one line per table when it is done (a log stays readable)."""

    def __init__(self, out: TextIO = sys.stderr) -> None:
        self.out = out
        self.live = out.isatty()
        self._drawn = 0.0

    def __call__(self, table: str, done: int, total: int) -> None:
        finished = done >= total
        if self.live:
            now = time.monotonic()
            if not finished and now - self._drawn < 0.1:
                return
            self._drawn = now
            share = done / total if total else 1.0
            filled = round(BAR_WIDTH * share)
            bar = "#" * filled + "." * (BAR_WIDTH - filled)
            end = "\n" if finished else ""
            self.out.write(f"\r{table:<20} [{bar}] {share:4.0%} {done:,}/{total:,}{end}")
            self.out.flush()
        elif finished:
            print(f"{table:<20} {done:,} rows", file=self.out, flush=True)


def _target(value: str) -> Path | str:
    if is_postgres(value):
        return value
    if "://" in value and not value.startswith("sqlite:"):
        raise StorageError(
            f"{value.split('://', 1)[0]}: not a database cronagents knows (a path or postgresql://)"
        )
    return sqlite_path(value)


async def copy_command(source: str, target: str, force: bool, batch: int = BATCH_ROWS) -> int:
    src, dst = _target(source), _target(target)
    if describe(src) == describe(dst):
        raise StorageError("--from and --to name the same database")
    if isinstance(src, Path) and not src.is_file():
        raise StorageError(f"no database at {src}")
    started = time.monotonic()
    async with open_storage(src) as from_store, open_storage(dst) as to_store:
        report = await copy_database(
            from_store, to_store, force=force, now_ms=now_ms(), batch=batch, progress=ProgressBar()
        )
    if report.mismatches:
        raise StorageError(f"counts differ after the copy: {'; '.join(report.mismatches)}")
    rows = sum(report.rows.values())
    took = time.monotonic() - started
    print(
        f"copied {rows:,} rows ({report.rows['agents']:,} agents, {report.rows['runs']:,} runs) "
        f"from {describe(src)} to {describe(dst)} in {took:.1f} s; counts checked",
        file=sys.stderr,
    )
    return 0
