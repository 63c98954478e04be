"""Load generators for ``bench/api.py``: ``wrk`` (preferred, C) or a raw asyncio client.

Both keep connections alive (HTTP/1.1), run ``conc`` connections for a fixed
duration, count only complete responses, and report req/s, p50 and p99
latency (ms), the number of non-200 responses and the CPU seconds the
generator itself used (to show it is not the bottleneck).
"""

from __future__ import annotations

import asyncio
import re
import resource
import shutil
import subprocess
import time
from dataclasses import dataclass


@dataclass
class LoadResult:
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    bytes_per_response: float
    gen_cpu_s: float
    seconds: float


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
_SIZE = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not m:
        raise ValueError(f"cannot parse wrk latency {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def wrk(url: str, token: str | None, conc: int, seconds: float) -> LoadResult:
    cmd = ["wrk", "-t1", f"-c{conc}", f"-d{max(1, round(seconds))}s", "--latency", "--timeout", "10s"]
    if token:
        cmd += ["-H", f"Authorization: Bearer {token}"]
    cmd.append(url)
    cpu0 = _children_cpu()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    cpu = _children_cpu() - cpu0
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+), ([\d.]+)(\w+) read", out)
    if not m:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    requests = int(m.group(1))
    elapsed = _ms(m.group(2) + m.group(3)) / 1000
    read = float(m.group(4)) * _SIZE[m.group(5)]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    errors = 0
    e = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if e:
        errors += int(e.group(1))
    s = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if s:
        errors += sum(int(x) for x in s.groups())
    return LoadResult(requests, rps, p50, p99, errors, read / max(requests, 1), cpu, elapsed)


# -- the pure-Python fallback ------------------------------------------------


async def _worker(
    host: str, port: int, request: bytes, stop_at: float, lat: list[int], stats: list[int]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter_ns()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
                    break
            await reader.readexactly(length)
            lat.append(time.perf_counter_ns() - t0)
            stats[0] += status != 200
            stats[1] += length
    finally:
        writer.close()


async def _pyload(
    host: str, port: int, path: str, token: str | None, conc: int, seconds: float
) -> tuple[list[int], list[int], float]:
    headers = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: */*\r\n"
    if token:
        headers += f"Authorization: Bearer {token}\r\n"
    request = (headers + "\r\n").encode()
    lat: list[int] = []
    stats = [0, 0]
    t0 = time.perf_counter()
    stop_at = t0 + seconds
    await asyncio.gather(*(_worker(host, port, request, stop_at, lat, stats) for _ in range(conc)))
    return lat, stats, time.perf_counter() - t0


def pyload(host: str, port: int, path: str, token: str | None, conc: int, seconds: float) -> LoadResult:
    cpu0 = time.process_time()
    lat, stats, elapsed = asyncio.run(_pyload(host, port, path, token, conc, seconds))
    cpu = time.process_time() - cpu0
    lat.sort()
    n = len(lat)

    def pct(q: float) -> float:
        return lat[min(n - 1, int(q * n))] / 1e6 if n else float("nan")

    return LoadResult(n, n / elapsed, pct(0.50), pct(0.99), stats[0], stats[1] / max(n, 1), cpu, elapsed)


def run_load(
    gen: str, host: str, port: int, path: str, token: str | None, conc: int, seconds: float
) -> LoadResult:
    if gen == "wrk":
        return wrk(f"http://{host}:{port}{path}", token, conc, seconds)
    return pyload(host, port, path, token, conc, seconds)
