"""Exemplars end to end: gunicorn with tracing on, scraped by a real Prometheus with exemplar
storage, which then answers the dashboard's exemplar query with the traces of our requests."""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families

from tests.helpers.servers import ROOT, Server, run_server
from tests.metrics.conftest import DASHBOARD, OPENMETRICS, promtool_check_openmetrics
from tests.server.test_metrics import JOB, prometheus_scraping, wait_for

pytestmark = pytest.mark.server

PARENT_ID = "b7ad6b7169203331"


@contextlib.contextmanager
def traced_gunicorn(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Server]:
    """One worker and no PROMETHEUS_MULTIPROC_DIR: the client's multi-process mode drops exemplars.

    An empty config file, since gunicorn would otherwise load the example's
    ``./gunicorn.conf.py``, which turns the multi-process mode on.
    """
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    config = tmp_path / "gunicorn.conf.py"
    config.write_text("# no multi-process metrics: exemplars need one process\n")
    env = {
        "DJANGO_SETTINGS_MODULE": "tests.server.metrics_traced_settings",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "example")]),
        "OTEL_TRACES_EXPORTER": "none",
        "OTEL_SDK_DISABLED": "false",
        "LANTERN_LOG_FORMAT": "json",
    }
    with run_server("gunicorn", args=["-c", str(config), "--workers", "1"], env=env) as server:
        yield server


def _exemplar_panel_expr() -> str:
    data = json.loads(DASHBOARD.read_text())
    (expr,) = [t["expr"] for p in data["panels"] for t in p["targets"] if t.get("exemplar")]
    return str(expr).replace("$job", JOB)


def test_prometheus_stores_our_trace_ids_as_exemplars(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Requests with sampled traceparents: the OpenMetrics scrape parses (prometheus_client and
    promtool), and Prometheus returns their trace ids for the dashboard's exemplar panel."""
    sent = [f"{i:032x}" for i in range(1, 21)]
    with traced_gunicorn(monkeypatch, tmp_path) as server:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            for trace_id in sent:
                response = client.get("/traced/plain/", headers={"traceparent": f"00-{trace_id}-{PARENT_ID}-01"})
                assert response.status_code == 200
            scrape = client.get("/metrics", headers={"Accept": OPENMETRICS})
        assert scrape.headers["content-type"].startswith("application/openmetrics-text")
        carried = {
            s.exemplar.labels["trace_id"]
            for family in openmetrics_families(scrape.text)
            for s in family.samples
            if s.exemplar is not None
        }
        assert carried and carried <= set(sent), carried
        result = promtool_check_openmetrics(scrape.text, tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr

        with prometheus_scraping(server.port, tmp_path) as prom:
            expr = _exemplar_panel_expr()

            def stored() -> set[str] | None:
                now = time.time()
                params = {"query": expr, "start": str(now - 300), "end": str(now + 60)}
                body = httpx.get(prom + "/api/v1/query_exemplars", params=params, timeout=10).json()
                assert body["status"] == "success", body
                ids = {e["labels"]["trace_id"] for series in body["data"] for e in series["exemplars"]}
                return ids or None

            found = wait_for(stored, "Prometheus to store an exemplar")
            assert found <= set(sent), found
            print(f"\n[metrics] exemplars stored by Prometheus for the dashboard query: {len(found)} trace ids")
