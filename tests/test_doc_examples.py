"""Every log line printed as an example in README.md, docs/quickstart.md and docs/logging.md is one the code writes.

Each documented line is compared with the line the code renders for a real
request (through the middleware, with tracing on, formatted by the schema's
own formatter): the same keys in the same order and nesting, and each value of
the documented shape (a 32-hex id, an RFC 3339 time, null, a number ...). A
value written by hand that the code never produces, such as ``"user_id":"-"``
in JSON or a UUID-style request id, fails here.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from django_lantern.logging import JsonFormatter, RequestContextFilter
from django_lantern.logging.schemas import DatadogFormatter, EcsFormatter, GcpFormatter

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", ROOT / "docs" / "quickstart.md", ROOT / "docs" / "logging.md"]
# The first key of a line names its schema.
SCHEMAS = {"ts": "json", "@timestamp": "ecs", "severity": "gcp", "timestamp": "datadog"}
# A documented string value's shape is the first that matches it; the real value must match the same pattern.
SHAPES = [
    ("32 hex digits", r"[0-9a-f]{32}"),
    ("RFC 3339 UTC time", r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"),
    ("decimal digits", r"[0-9]+"),
    ("16 hex digits", r"[0-9a-f]{16}"),
    ("seconds", r"[0-9]+(\.[0-9]+)?s"),
    ("a UUID", r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"),
    ("unknown", r"-"),
    ("text", r"(?s).+"),
]
ACCESS_MESSAGE = re.compile(r"method=[A-Z]+ path=\S+ status=\d+ duration_ms=[\d.]+ user_id=\w+")


def documented_lines() -> list[tuple[str, str]]:
    """(where, line) for every JSON log line in a ``json`` block and every access message quoted."""
    found = []
    for doc in DOCS:
        text = doc.read_text()
        for block in re.findall(r"```json\n(.*?)```", text, re.DOTALL):
            found += [(doc.name, line) for line in block.splitlines() if line.startswith("{") and '"message"' in line]
        found += [(doc.name, match) for match in ACCESS_MESSAGE.findall(text)]
    return found


def shape_mismatches(documented: Any, real: Any, where: str = "") -> list[str]:
    if isinstance(documented, dict):
        if not isinstance(real, dict):
            return [f"{where}: documented an object, real {real!r}"]
        if list(documented) != list(real):
            return [f"{where or 'top'}: documented keys {list(documented)}, real {list(real)}"]
        return [m for key in documented for m in shape_mismatches(documented[key], real[key], f"{where}.{key}")]
    if documented is None or isinstance(documented, bool):
        return [] if real is documented else [f"{where}: documented {documented!r}, real {real!r}"]
    if isinstance(documented, int | float):
        ok = isinstance(real, int | float) and not isinstance(real, bool)
        return [] if ok else [f"{where}: documented a number, real {real!r}"]
    name, pattern = next((n, p) for n, p in SHAPES if re.fullmatch(p, documented))
    if isinstance(real, str) and re.fullmatch(pattern, real):
        return []
    return [f"{where}: documented {documented!r} ({name}), real {real!r}"]


class _Renderings(logging.Handler):
    """Formats each access record with every schema, in the request's context (as the real handler does)."""

    def __init__(self) -> None:
        super().__init__()
        self.addFilter(RequestContextFilter())
        self.formatters = {
            "json": JsonFormatter(),
            "ecs": EcsFormatter(service_name="shop"),
            "gcp": GcpFormatter(project="acme-prod"),
            "datadog": DatadogFormatter(),
        }
        self.lines: dict[str, str] = {}
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
        self.lines = {name: formatter.format(record) for name, formatter in self.formatters.items()}


@pytest.fixture
def real_lines(client: Client, tracer_provider: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[_Renderings]:
    for name, value in {"DD_SERVICE": "shop", "DD_ENV": "prod", "DD_VERSION": "1.4.2"}.items():
        monkeypatch.setenv(name, value)
    handler = _Renderings()
    access = logging.getLogger("access")
    access.addHandler(handler)
    try:
        client.get("/", HTTP_USER_AGENT="curl/8.5.0", REMOTE_ADDR="203.0.113.9")
        yield handler
    finally:
        access.removeHandler(handler)


def test_the_docs_show_log_lines() -> None:
    schemas = {SCHEMAS.get(next(iter(json.loads(line))), "?") for _, line in documented_lines() if line.startswith("{")}
    assert schemas == {"json", "ecs", "gcp", "datadog"}
    assert {where for where, line in documented_lines() if not line.startswith("{")} == {"README.md", "logging.md"}


@pytest.mark.parametrize(("where", "line"), documented_lines(), ids=lambda v: str(v)[:40])
def test_a_documented_line_is_one_the_code_writes(where: str, line: str, real_lines: _Renderings) -> None:
    if line.startswith("{"):
        documented = json.loads(line)
        real = json.loads(real_lines.lines[SCHEMAS[next(iter(documented))]])
        assert shape_mismatches(documented, real) == [], f"{where}: {line}"
    else:  # the access message: the same keys in the same order
        keys = [pair.split("=")[0] for pair in line.split()]
        assert [pair.split("=")[0] for pair in real_lines.messages[-1].split()] == keys, where
