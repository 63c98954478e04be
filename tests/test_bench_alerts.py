"""``bench/alerts.py --quick`` still runs end to end and counts what it measures (so it cannot rot).

The figures themselves depend on the machine; what is checked is that every
party started, every run it made failed and was alerted exactly once with a
valid signature, and the report holds both tables.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from app.notify.deliverer import PER_CHANNEL_CONCURRENCY

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


@pytest.mark.timeout(400)
def test_the_alerts_benchmark_runs_and_accounts_for_every_alert(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "alerts.py"), "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=380,
        env={**os.environ, "CRONAGENTS_HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    # 1. five measured real CLI runs, each ended error and its one signed webhook came
    [row] = re.findall(r"^\| 1 \| 5 \| \*\*[\d.]+ / [\d.]+ / [\d.]+\*\* \|.*$", out, re.M)
    cells = [c.strip() for c in row.strip("|").split("|")]
    copies, unverified, connections = cells[-3:]
    assert (copies, unverified) == ("0", "0") and int(connections) >= 1
    assert "every run ended error: True" in out
    # 2. the deliverer alone: fifty deliveries, fifty received, distinct and verified
    [alone] = re.findall(r"^\| 1 \| 50 \| 50 \| 50 \| (\d+) \| [\d.]+ \| [\d.]+ \|.*$", out, re.M)
    assert 1 <= int(alone) <= PER_CHANNEL_CONCURRENCY
    # 3. fifty agents failing at one instant, both ways: all fifty running when they failed together;
    #    fifty webhooks, one per failed run, none twice, all verified
    together = re.findall(r"^\| 1 \| 50 \| 50 \| 50 \| 50 \| True \| 0 \| 0 \|.*$", out, re.M)
    at_once = re.findall(r"^\| 1 \| 50 \| — \| 50 \| 50 \| True \| 0 \| 0 \|.*$", out, re.M)
    assert len(together) == 1 and len(at_once) == 1, out
    assert out.count("each exactly once and verified: True") == 2
