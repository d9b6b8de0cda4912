"""tests.helpers.skip_summary: the end of `make test` says why tests were skipped and what else there is."""

from __future__ import annotations

from types import SimpleNamespace

from tests.helpers import skip_summary


def test_reasons_are_grouped_most_frequent_first() -> None:
    """Each distinct reason once, with its count, the most frequent first."""
    reasons = ["REDIS_URL is not set", "DATABASE_URL is not set", "DATABASE_URL is not set"]
    lines = skip_summary.summary_lines(reasons, "")
    assert lines[:2] == ["   2 skipped: DATABASE_URL is not set", "   1 skipped: REDIS_URL is not set"]


def test_a_missing_service_variable_gets_the_hint() -> None:
    """A skip for a missing DATABASE_URL/REDIS_URL is followed by how to set them; other skips are not."""
    assert skip_summary.SERVICE_HINT in skip_summary.summary_lines(["REDIS_URL is not set"], "")
    assert skip_summary.summary_lines(["promtool is not installed"], "") == ["   1 skipped: promtool is not installed"]


def test_make_test_names_the_suites_it_leaves_out() -> None:
    """make test's marker expression gets one line naming make test-server, test-system and test-walk."""
    (line,) = skip_summary.summary_lines([], "not system and not walk and not server")
    assert line.startswith("Not part of this run: ")
    for target in ("make test-server", "make test-system", "make test-walk"):
        assert target in line


def test_only_the_suites_deselected_are_named() -> None:
    """A run that selects a suite, or deselects only one, names only what it left out."""
    assert skip_summary.summary_lines([], "system") == []
    assert skip_summary.summary_lines([], "server and not system and not walk") == [
        "Not part of this run: " + skip_summary.OTHER_SUITES["system"] + "; " + skip_summary.OTHER_SUITES["walk"] + "."
    ]


def test_skip_reason_reads_pytest_reports() -> None:
    """The reason is taken from a skipped report's (path, line, "Skipped: reason") tuple."""
    report = SimpleNamespace(longrepr=("tests/x.py", 3, "Skipped: DATABASE_URL is not set"))
    assert skip_summary.skip_reason(report) == "DATABASE_URL is not set"
