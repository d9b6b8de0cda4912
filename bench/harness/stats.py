"""Small statistics: medians and spreads over rounds."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def quantile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated quantile (``q`` in 0..1) of a small sample."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def spread(values: Sequence[float]) -> dict[str, float]:
    """Median, interquartile range and extremes, rounded for the report."""
    return {
        "median": round(median(values), 2),
        "p25": round(quantile(values, 0.25), 2),
        "p75": round(quantile(values, 0.75), 2),
        "min": round(min(values), 2) if values else float("nan"),
        "max": round(max(values), 2) if values else float("nan"),
    }


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return round(numerator / denominator, 3)
