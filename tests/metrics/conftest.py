"""Fixtures for the metrics tests: fresh families per test, scrape helpers, promtool."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from django_lantern.metrics import _families as families
from django_lantern.metrics import _recorder as recorder
from tests.helpers.services import require_binary

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
RULES = DEPLOY / "prometheus" / "rules.yml"
SCRAPE_CONFIG = DEPLOY / "prometheus" / "prometheus.yml"
DASHBOARD = DEPLOY / "grafana" / "django-lantern.json"


@pytest.fixture(autouse=True)
def fresh_metrics() -> Iterator[None]:
    """Every test starts from new, zeroed families bound to the current settings."""
    families.get_families.cache_clear()
    recorder._state.cache_clear()
    yield
    families.get_families.cache_clear()
    recorder._state.cache_clear()


def value(name: str, labels: dict[str, str] | None = None, registry: CollectorRegistry = REGISTRY) -> float:
    """A sample's value, 0.0 when the series does not exist (yet)."""
    found = registry.get_sample_value(name, labels or {})
    return found if found is not None else 0.0


def series_count(registry: CollectorRegistry = REGISTRY) -> int:
    """How many distinct series a scrape of ``registry`` shows."""
    return sum(len(metric.samples) for metric in registry.collect())


def parse(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Prometheus text -> {sample name: [(labels, value), ...]}."""
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return out


def load_rules(text: str) -> list[dict[str, str]]:
    """``record``/``alert`` and ``expr`` of each rule in our rules file.

    A small reader for the file's own shape (inline ``expr:`` or an ``expr: |``
    block), since PyYAML is not a dependency; promtool validates the YAML itself.
    """
    found: list[dict[str, str]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        if stripped.startswith(("- record:", "- alert:")):
            kind, name = stripped[2:].split(":", 1)
            found.append({kind: name.strip()})
        elif stripped.startswith("expr:") and found:
            inline = stripped[len("expr:") :].strip()
            if inline != "|":
                found[-1]["expr"] = inline
            else:
                indent = len(lines[i]) - len(lines[i].lstrip())
                block = []
                while i + 1 < len(lines) and (
                    not lines[i + 1].strip() or len(lines[i + 1]) - len(lines[i + 1].lstrip()) > indent
                ):
                    i += 1
                    block.append(lines[i].strip())
                found[-1]["expr"] = " ".join(part for part in block if part)
        i += 1
    return found


def promtool() -> str:
    """promtool, from Debian's ``prometheus`` package: skipped without it, failed under CI."""
    return require_binary("promtool", "apt-get install -y prometheus; .ci/run does it")


def promtool_check_metrics(text: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), "check", "metrics"], input=text, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture
def traced() -> Iterator[Any]:
    """Tracing on with our own SDK provider (always-on sampler, in-memory exporter); the
    global provider is never touched. ``traced.spans()`` lists the finished spans."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from django_lantern import tracing

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    provider.spans = exporter.get_finished_spans  # type: ignore[attr-defined]
    tracing.enable(provider)
    try:
        yield provider
    finally:
        tracing.disable()
        provider.shutdown()


OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"


def _stamp(line: str, timestamp: str) -> str:
    """Insert a timestamp after a sample's value (outside any quoted label value)."""
    quoted = escaped = False
    for i, char in enumerate(line):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == " " and not quoted:
            end = line.find(" ", i + 1)
            return line + f" {timestamp}" if end < 0 else f"{line[:end]} {timestamp}{line[end:]}"
    return line


def promtool_check_openmetrics(text: str, workdir: Path) -> subprocess.CompletedProcess[str]:
    """Prometheus's own OpenMetrics parser, through promtool.

    ``promtool check metrics`` reads only the 0.0.4 text format (it rejects any
    exemplar); ``promtool tsdb create-blocks-from openmetrics`` parses
    OpenMetrics, exemplars included, but wants a timestamp on every sample, so
    one is added to each sample line and nothing else is changed.
    """
    stamped = "\n".join(
        line if line.startswith("#") or not line else _stamp(line, "1700000000") for line in text.split("\n")
    )
    source = workdir / "scrape.om"
    source.write_text(stamped)
    return subprocess.run(
        [promtool(), "tsdb", "create-blocks-from", "openmetrics", str(source), str(workdir / "blocks")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
