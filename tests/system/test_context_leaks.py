"""No request context leaks between requests on a real server (gunicorn gthread, uvicorn)."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import httpx
import pytest

from tests.system import support

REQUESTS = support.scaled(2000, minimum=200)
CONCURRENCY = 16
GENERATED_ID_LENGTH = 32  # request_id.generate(): 32 hex characters
PROBES = ("/healthz", "/readyz")  # a healthy one writes no access line (LANTERN["SLOW_PROBE_MS"])

SERVERS = {
    "gunicorn-gthread-4": ("gunicorn", support.gunicorn_args(workers=1, threads=4)),
    "uvicorn": ("uvicorn", []),
}


def _plan(seed: int) -> list[tuple[int, str, str | None]]:
    """(seq, path, incoming id or None): views, streaming, probes; half with an incoming id."""
    rng = random.Random(seed)
    kinds = ["log", "stream", "db", "healthz", "readyz"]
    plan = []
    for seq in range(REQUESTS):
        kind = kinds[seq % len(kinds)]
        path = f"/{kind}" if kind in ("healthz", "readyz") else f"/_system/{kind}/{seq}/"
        incoming = f"sys-{seed}-{seq}-{rng.getrandbits(32):08x}" if seq % 2 == 0 else None
        plan.append((seq, path, incoming))
    rng.shuffle(plan)  # interleave kinds and with/without ids
    return plan


@pytest.mark.system
@pytest.mark.parametrize("name", list(SERVERS))
def test_every_line_carries_its_own_request_id(name: str, env: dict[str, str]) -> None:
    """2,000 interleaved requests: each log line has its own request's id and path, never another's."""
    kind, args = SERVERS[name]
    plan = _plan(seed=len(name))
    with support.serve(kind, env, args=args) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        skip = len(server.json_lines())  # start-up lines and the launcher's own readiness probe

        def send(item: tuple[int, str, str | None]) -> tuple[int, str, int, str]:
            seq, path, incoming = item
            headers = {"X-Request-Id": incoming} if incoming else {}
            response = client.get(path, headers=headers)
            response.read()  # the whole streamed body, so the stream's logs are written
            return seq, path, response.status_code, response.headers.get("X-Request-Id", "")

        results = support.run_concurrently([lambda i=item: send(i) for item in plan], CONCURRENCY, timeout=300)
        last_ids = {rid for *_, rid in results}
        # A healthy probe writes no access line (SLOW_PROBE_MS): every other request writes one.
        pages = sum(1 for _, path, _ in plan if path not in PROBES)
        support.wait_for_lines(
            server, lambda ls: sum(ln["logger"] == "access" and ln["path"] not in PROBES for ln in ls) >= pages
        )
        lines = server.json_lines()[skip:]

    by_id: dict[str, tuple[int, str]] = {}
    for (seq, path, status, rid), (_, _, incoming) in zip(results, plan, strict=True):
        assert status == 200, (path, status)
        if incoming is not None:
            assert rid == incoming, "a valid incoming id is kept"
        else:
            assert len(rid) == GENERATED_ID_LENGTH, rid
        assert rid not in by_id, f"request id {rid} given to two requests"
        by_id[rid] = (seq, path)
    assert set(by_id) == last_ids

    access_per_id: Counter[str] = Counter()
    checked = 0
    for line in lines:
        rid = line["request_id"]
        if rid == "-":
            # Outside a request (start-up, server lines): must not be a request's own line.
            assert "seq" not in line, f"a request's line lost its id: {line}"
            continue
        assert rid in by_id, f"a line carries an id no request had: {line}"
        seq, path = by_id[rid]
        assert line["path"] == path, f"line of {rid} shows another request's path: {line}"
        if "seq" in line:
            assert line["seq"] == seq, f"line of {rid} carries another request's data: {line}"
        if line["logger"] == "access":
            access_per_id[rid] += 1
        checked += 1
    missing = [rid for rid, (_, path) in by_id.items() if access_per_id[rid] != 1 and path not in PROBES]
    assert not missing, f"{len(missing)} requests without exactly one access line, e.g. {missing[:3]}"
    assert all(access_per_id[rid] <= 1 for rid in by_id), "a probe with two access lines"
    stream_lines = [ln for ln in lines if ln.get("message") == "system stream chunk"]
    assert len(stream_lines) == 3 * sum(1 for _, p, _ in plan if "/stream/" in p)
    _report(name, checked, lines)


def _report(name: str, checked: int, lines: list[dict[str, Any]]) -> None:
    print(
        f"\n[system] context leaks {name}: {REQUESTS} requests, {checked} request lines checked, "
        f"{len(lines)} JSON lines in total"
    )
