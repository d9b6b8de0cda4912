"""django_lantern.tracing._exclusion: probes, /metrics and OTEL_PYTHON_DJANGO_EXCLUDED_URLS get no
server span; client-sized span attributes are capped and one-time credentials redacted."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from django_lantern import tracing
from django_lantern.scrubbing._cut import CUT_MARKER
from django_lantern.tracing._attributes import URL_PATH_LIMIT, URL_QUERY_LIMIT
from django_lantern.tracing._exclusion import excluded_urls_from_env

pytestmark = pytest.mark.urls("tests.urls_errors")


def span_paths(provider: Any) -> list[str]:
    return [span.attributes["url.path"] for span in provider.exporter.get_finished_spans()]


@pytest.mark.parametrize("path", ["/healthz", "/healthz/", "/readyz", "/metrics", "/metrics/"])
def test_probes_and_metrics_start_no_span(path: str, tracer_provider: Any, client: Client, logs: Any) -> None:
    """No span for probes and /metrics; requests around them are traced as before."""
    client.get("/errors/items/1/")
    client.get(path)
    client.get("/errors/items/2/")
    assert span_paths(tracer_provider) == ["/errors/items/1/", "/errors/items/2/"]


def test_trace_probes_setting_brings_their_spans_back(tracer_provider: Any, client: Client, settings: Any) -> None:
    """LANTERN["TRACE_PROBES"] = True: probes are traced."""
    settings.LANTERN = {**settings.LANTERN, "TRACE_PROBES": True}
    client.get("/healthz")
    assert span_paths(tracer_provider) == ["/healthz"]


@pytest.mark.parametrize("variable", ["OTEL_PYTHON_DJANGO_EXCLUDED_URLS", "OTEL_PYTHON_EXCLUDED_URLS"])
def test_excluded_urls_variable_is_honoured(
    variable: str, monkeypatch: pytest.MonkeyPatch, client: Client, tracer_provider: Any
) -> None:
    """Comma-separated expressions searched in the URL (without the query): matches get no span."""
    monkeypatch.setenv(variable, r"testserver/errors/items/[0-9]+/$, aitems")
    tracing.enable(tracer_provider)  # the variable is read when tracing is enabled
    client.get("/errors/items/3/?x=1")
    client.get("/errors/aitems/3/")
    client.get("/errors/items/3/more")  # 404, not excluded: "$" anchors at the path's end
    assert span_paths(tracer_provider) == ["/errors/items/3/more"]


def test_the_django_variable_wins_over_the_generic_one() -> None:
    """As in OpenTelemetry's Django instrumentation, the Django-specific variable is read first."""
    pattern = excluded_urls_from_env({"OTEL_PYTHON_DJANGO_EXCLUDED_URLS": "a", "OTEL_PYTHON_EXCLUDED_URLS": "b"})
    assert pattern is not None and pattern.pattern == "(?:a)"
    assert excluded_urls_from_env({"OTEL_PYTHON_DJANGO_EXCLUDED_URLS": " , "}) is None


def test_an_invalid_expression_names_the_variable() -> None:
    """A typo fails loudly at start-up instead of tracing what it meant to exclude."""
    with pytest.raises(ImproperlyConfigured, match="OTEL_PYTHON_DJANGO_EXCLUDED_URLS"):
        excluded_urls_from_env({"OTEL_PYTHON_DJANGO_EXCLUDED_URLS": "healthz,("})


def test_huge_query_string_is_capped(tracer_provider: Any, client: Client) -> None:
    """A 142 kB query string becomes a url.query of at most 2 048 characters plus a marker."""
    query = "q=" + "a" * 142_000 + "&token=never-seen-1"
    client.get(f"/errors/items/6/?{query}")
    (span,) = tracer_provider.exporter.get_finished_spans()
    value = span.attributes["url.query"]
    assert len(value) <= URL_QUERY_LIMIT + 40
    assert value.endswith(CUT_MARKER % (len(query) - URL_QUERY_LIMIT))
    assert "never-seen-1" not in value


def test_huge_path_is_capped(tracer_provider: Any, client: Client) -> None:
    """url.path is client-sized too."""
    client.get("/" + "p" * 10_000)
    (span,) = tracer_provider.exporter.get_finished_spans()
    assert len(span.attributes["url.path"]) <= URL_PATH_LIMIT + 40


def test_oauth_code_is_redacted_in_url_query(tracer_provider: Any, client: Client) -> None:
    """The one-time OAuth code (and SAML response) never reach url.query; state stays readable."""
    client.get("/errors/items/8/?code=oauth-code-77a&state=s1&SAMLResponse=PHNhbWw")
    (span,) = tracer_provider.exporter.get_finished_spans()
    assert span.attributes["url.query"] == "code=[redacted]&state=s1&SAMLResponse=[redacted]"


def test_a_failing_exclusion_check_never_breaks_the_request(
    monkeypatch: pytest.MonkeyPatch, client: Client, tracer_provider: Any, internal_errors: dict[str, int]
) -> None:
    """If building the URL to match raises, the request is served and traced, the error counted."""
    from django_lantern.tracing import _exclusion as trace_exclusion

    monkeypatch.setenv("OTEL_PYTHON_DJANGO_EXCLUDED_URLS", "nothing-matches")
    tracing.enable(tracer_provider)

    def broken(request: Any) -> str:
        raise RuntimeError("scheme misconfigured")

    monkeypatch.setattr(trace_exclusion, "request_url", broken)
    assert client.get("/errors/items/9/").status_code == 200
    assert span_paths(tracer_provider) == ["/errors/items/9/"]
    assert internal_errors["tracing_exclusion"] == 1
