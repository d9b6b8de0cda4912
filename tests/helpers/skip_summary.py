"""The end of `make test`: why tests were skipped, grouped, and what this run leaves to other targets.

A newcomer without PostgreSQL or Redis sees a handful of ``s`` in the
progress line; this says which variable was missing, how to provide it, and
which suites this run left out, with the target that runs each.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

SERVICE_HINT = (
    "To run them: DATABASE_URL=postgres://postgres@127.0.0.1:5432/test "
    "REDIS_URL=redis://127.0.0.1:6379/0 make test (see the README)."
)
# The suites a run can leave out by marker (`make test` leaves out all three), each with its own target.
OTHER_SUITES = {
    "server": "`make test-server` (tests/server/: real gunicorn, uvicorn, Celery and django.tasks workers, Prometheus)",
    "system": "`make test-system` (tests/system/: faults, load and shutdown on real servers)",
    "walk": "`make test-walk` (the example walked in headless Chromium)",
}


def skip_reason(report: Any) -> str:
    """The reason pytest recorded for one skipped test report."""
    longrepr = getattr(report, "longrepr", None)
    reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return reason.removeprefix("Skipped: ")


def summary_lines(reasons: Iterable[str], markexpr: str) -> list[str]:
    """Grouped skip reasons (most frequent first), a hint for the services, and the suites left out."""
    counts = Counter(reasons)
    lines = [f"{count:4d} skipped: {reason}" for reason, count in counts.most_common()]
    if any("DATABASE_URL" in reason or "REDIS_URL" in reason for reason in counts):
        lines.append(SERVICE_HINT)
    left_out = [target for marker, target in OTHER_SUITES.items() if f"not {marker}" in markexpr]
    if left_out:
        lines.append("Not part of this run: " + "; ".join(left_out) + ".")
    return lines


def write(terminalreporter: Any, config: Any) -> None:
    """pytest_terminal_summary: print the lines, under their own heading."""
    reasons = [skip_reason(report) for report in terminalreporter.stats.get("skipped", [])]
    lines = summary_lines(reasons, config.getoption("markexpr") or "")
    if not lines:
        return
    terminalreporter.section("skipped tests and other suites", sep="-")
    for line in lines:
        terminalreporter.write_line(line)
