"""A probe storm, run in a process of its own so that its event loop does not slow the test's samplers.

``python -m tests.system.storm PORT PROBERS SECONDS [PATH]``: PROBERS concurrent
clients, each on its own keep-alive connection, each sending ``GET PATH``
(default ``/readyz``) once a second (starts spread over the first second, like independent probers)
for SECONDS; every request has a client-side timeout. Prints one JSON object:
statuses and latencies.

A few lines of HTTP/1.1 over asyncio streams rather than httpx: with 400
connections httpx's pool spends more CPU than the server under test, and on a
2-core box the storm's own client would then decide the latencies measured.
"""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

CLIENT_TIMEOUT = 10.0
PERIOD = 1.0
ROOT = Path(__file__).resolve().parents[2]


def launch(port: int, probers: int, seconds: float, path: str = "/readyz") -> subprocess.Popen[str]:
    """Start a storm in a process of its own; its stdout is the JSON result."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.system.storm", str(port), str(probers), str(seconds), path],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )


def _request(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: lantern-storm\r\n\r\n".encode()


async def _probe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> str:
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = lines[0].split(" ")[1]
    length = next((int(h.split(":", 1)[1]) for h in lines[1:] if h.lower().startswith("content-length:")), 0)
    await reader.readexactly(length)
    return status


async def storm(port: int, probers: int, seconds: float, path: str = "/readyz") -> dict[str, object]:
    request = _request(path)
    statuses: Counter[str] = Counter()
    latencies: list[float] = []
    end = time.monotonic() + seconds

    async def prober() -> None:
        await asyncio.sleep(random.random() * PERIOD)
        connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        try:
            for _ in range(int(seconds / PERIOD) + 1):  # bounded
                if time.monotonic() >= end:
                    return
                started = time.monotonic()
                try:
                    if connection is None:
                        connection = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), CLIENT_TIMEOUT)
                    statuses[await asyncio.wait_for(_probe(*connection, request), CLIENT_TIMEOUT)] += 1
                except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
                    statuses[type(exc).__name__] += 1
                    if connection is not None:
                        connection[1].close()
                    connection = None
                latencies.append(time.monotonic() - started)
                await asyncio.sleep(max(0.0, PERIOD - (time.monotonic() - started)))
        finally:
            if connection is not None:
                connection[1].close()

    await asyncio.wait_for(asyncio.gather(*(prober() for _ in range(probers))), timeout=seconds + 60)
    latencies.sort()
    return {
        "statuses": dict(statuses),
        "count": len(latencies),
        "p50": latencies[len(latencies) // 2] if latencies else None,
        "p95": latencies[int(len(latencies) * 0.95)] if latencies else None,
        "p99": latencies[int(len(latencies) * 0.99)] if latencies else None,
        "max": latencies[-1] if latencies else None,
    }


if __name__ == "__main__":
    path = sys.argv[4] if len(sys.argv) > 4 else "/readyz"
    print(json.dumps(asyncio.run(storm(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), path))))
