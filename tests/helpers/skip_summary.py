"""The end of `make test`: why tests were skipped, grouped, and what this run leaves to other targets.

A newcomer without PostgreSQL or Redis sees a handful of ``s`` in the
progress line; this says which variable was missing, how to provide it, and
that the real-server suite is a separate target.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

SERVICE_HINT = (
    "To run them: DATABASE_URL=postgres://postgres@127.0.0.1:5432/test "
    "REDIS_URL=redis://127.0.0.1:6379/0 make test (see the README)."
)
SYSTEM_HINT = (
    "Not part of this run: the real-server suite (gunicorn, uvicorn, PostgreSQL, Redis) is `make test-system`; "
    "the example walked in headless Chromium is `make test-walk`."
)


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
    if "not system" in markexpr:
        lines.append(SYSTEM_HINT)
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
