"""Finding the processes a test's agent runs started (to prove none is left behind)."""

from __future__ import annotations

import os
from pathlib import Path

# Every agent run in the tests carries TAG_ENV=<tag> in its environment, and
# everything the CLI starts inherits it.
TAG_ENV = "CRONAGENTS_TEST_TAG"


def tagged_processes(tag: str) -> list[tuple[int, str]]:
    """Live (non-zombie) processes whose environment holds TAG_ENV=tag."""
    needle = f"{TAG_ENV}={tag}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()
            if needle not in environ.split(b"\0"):
                continue
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if stat[stat.rfind(")") + 2] not in "ZX":
            found.append((int(entry), cmdline.decode(errors="replace")))
    return found
