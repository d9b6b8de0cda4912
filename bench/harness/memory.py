"""Stage 4: resident size after many requests with unique paths and ids (``python -m harness.memory CONFIG N``).

Half the requests hit ``/items/<n>/`` (one route template, N distinct paths),
half hit ``/nope/<n>/`` (404, unmatched); every request carries a distinct
``X-Request-Id``. RSS is read from ``/proc/self/status`` after a full
``gc.collect()`` at a few checkpoints, so a plateau and a leak look different.
"""

from __future__ import annotations

import gc
import io
import sys
from collections.abc import Iterator
from typing import Any

from harness import drive
from harness.djsetup import emit, pin_to_last_cpu, protocol_stream, rss_kib, setup

WARMUP = 2000


def _environs(base: dict[str, Any], start: int) -> Iterator[dict[str, Any]]:
    i = start
    while True:
        env = dict(base)
        env["PATH_INFO"] = f"/items/{i}/" if i % 2 else f"/nope/{i}/"
        env["HTTP_X_REQUEST_ID"] = f"bench-{i:09d}"
        env["wsgi.input"] = io.BytesIO(b"")
        yield env
        i += 1


def _label_sets() -> int | None:
    """How many label sets lantern's metric families hold (None when not lantern)."""
    try:
        from prometheus_client import REGISTRY

        names = ("http_server_requests", "http_server_request_duration_seconds")
        return sum(
            len({tuple(sorted(s.labels.items())) for s in metric.samples if "le" not in s.labels})
            for metric in REGISTRY.collect()
            if metric.name in names
        )
    except Exception:
        return None


def main(config: str, n: int) -> None:
    out = protocol_stream()
    pin_to_last_cpu()
    setup(config)
    from django.core.wsgi import get_wsgi_application

    app = get_wsgi_application()
    base = drive.environ("/")
    drive.wsgi_batch(app, _environs(base, 10**9), WARMUP)  # type: ignore[arg-type]
    gc.collect()
    start_kib = rss_kib()
    checkpoints: list[dict[str, int]] = []
    envs = _environs(base, 0)
    quarter = n // 4
    for step in range(4):
        drive.wsgi_batch(app, envs, quarter)  # type: ignore[arg-type]
        gc.collect()
        checkpoints.append({"requests": quarter * (step + 1), "rss_kib": rss_kib()})
    end_kib = checkpoints[-1]["rss_kib"]
    emit(
        out,
        {
            "config": config,
            "requests": quarter * 4,
            "rss_after_warmup_kib": start_kib,
            "rss_end_kib": end_kib,
            "growth_kib": end_kib - start_kib,
            "growth_second_half_kib": end_kib - checkpoints[1]["rss_kib"],
            "checkpoints": checkpoints,
            "metric_label_sets": _label_sets() if config.startswith("lantern") else None,
        },
    )


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 100_000)
