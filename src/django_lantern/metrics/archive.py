"""Fold dead workers' metric files into one archive per type, so the directory stays bounded.

prometheus_client gives every process its own ``counter_<pid>.db``,
``histogram_<pid>.db``, ... and a scrape sums them all. Files of dead
workers must keep counting (counters never go down), so the client never
deletes them: with ``--max-requests`` recycling, the directory grows by three
64 KiB files per recycle and every scrape reads all of them.

Here, when a worker is gone, its counter, histogram and summary values are
*added* into ``counter_archive.db`` (etc.), the same file layout the client
writes, and its files are removed; its gauges are combined by their mode
(``sum`` added, ``max``/``min`` kept, ``mostrecent`` by timestamp) or, for
``all`` and the ``live*`` modes, dropped: they describe a process that no
longer exists.

Consistency, for scrapes running at the same time and for a crash midway:

- A merge holds an exclusive ``flock`` on ``.lantern-metrics.lock``; a scrape
  through :class:`LockedCollector` holds it shared. No scrape sees a dead
  worker's values both in its file and in the archive, or in neither.
- A merge is a transaction with one commit point: new archives are written
  (fsynced) into ``.lantern-merge.pending/``, the dead files are moved in
  beside them, and the directory is renamed to ``.lantern-merge.commit``.
  Recovery (run before every merge, and by a scrape that finds either
  directory) rolls a pending merge back (the dead files return) and a
  committed one forward (the archives replace the old ones). A value is
  therefore counted exactly once whatever instant the merger dies at.
- Floating-point sums depend on their order; the collector reads the archive
  first and the other files by name, and a merged ``_sum`` is nudged up by
  the last ulp when regrouping would otherwise make a total smaller by one.
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from django_lantern.metrics._archive_files import (
    ARCHIVE_ID,
    COMMITTED,
    PENDING,
    Values,
    dead_files,
    encode,
    fsync_dir,
    has_header,
    locked,
    parse_name,
    read_values,
    scrape_order,
)
from django_lantern.metrics._archive_files import write_durably as _write_durably  # patched by the crash tests

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric
    from prometheus_client.registry import CollectorRegistry

__all__ = ["LockedCollector"]

# Kinds whose values are added when folded; the gauge modes an archive keeps.
_ADDITIVE = frozenset({"counter", "histogram", "summary", "gauge_sum"})
_KEPT_GAUGES = frozenset({"gauge_sum", "gauge_max", "gauge_min", "gauge_mostrecent"})


# -- combining -----------------------------------------------------------------
def _combine(kind: str, into: Values, values: Values) -> None:
    for key, (value, ts) in values.items():
        old = into.get(key)
        if old is None:
            into[key] = (value, ts)
        elif kind in _ADDITIVE:
            into[key] = (old[0] + value, 0.0)
        elif kind == "gauge_max":
            into[key] = max(old, (value, ts))
        elif kind == "gauge_min":
            into[key] = min(old, (value, ts))
        else:  # mostrecent: the newer write wins
            into[key] = (value, ts) if ts > old[1] else old


def _fold(parts: list[float]) -> float:
    total = 0.0
    for part in parts:
        total += part
    return total


def _never_smaller(
    kind: str, merged: Values, before: dict[str, list[float]], after_live: dict[str, list[float]]
) -> None:
    """Nudge additive archive values so no scrape total drops by float regrouping.

    ``before[key]`` is the key's values in scrape order before the merge,
    ``after_live[key]`` those of the files that stay; the archive comes first.
    """
    if kind not in _ADDITIVE:
        return
    for key, (value, ts) in list(merged.items()):
        parts = before.get(key)
        if not parts:
            continue  # only in files that stay: nothing regrouped
        target = _fold(parts)
        rest = after_live.get(key, [])
        for _ in range(8):  # a regrouped sum is off by a few ulps at most
            if _fold([value, *rest]) >= target:
                break
            value = math.nextafter(value, math.inf)
        merged[key] = (value, ts)


# -- the transaction -----------------------------------------------------------
def recover(directory: Path) -> None:
    """Finish or undo a merge that stopped midway (the caller holds the lock exclusively)."""
    pending, committed = directory / PENDING, directory / COMMITTED
    if committed.is_dir():
        for archive in sorted(committed.glob("*.db")):
            os.replace(archive, directory / archive.name)
        fsync_dir(directory)
        shutil.rmtree(committed)
    if pending.is_dir():
        dead = pending / "dead"
        for path in sorted(dead.glob("*.db")) if dead.is_dir() else ():
            os.replace(path, directory / path.name)
        fsync_dir(directory)
        shutil.rmtree(pending)


def needs_recovery(directory: Path) -> bool:
    return (directory / PENDING).exists() or (directory / COMMITTED).exists()


def merge_dead(directory: str | os.PathLike[str], pids: Iterable[int] = ()) -> int:
    """Fold the files of ``pids`` (and of any other dead process) into the archives; return
    how many files were removed. Runs in the gunicorn master (``child_exit``)."""
    root = Path(directory)
    with locked(root, exclusive=True):
        recover(root)
        dead = dead_files(root, pids)
        if not dead:
            return 0
        by_kind: dict[str, list[Path]] = {}
        for path in dead:
            kind = parse_name(path.name)[0]  # type: ignore[index]
            by_kind.setdefault(kind, []).append(path)
        pending = root / PENDING
        (pending / "dead").mkdir(parents=True)
        for kind, paths in by_kind.items():
            if kind not in _ADDITIVE and kind not in _KEPT_GAUGES:
                continue  # all and live* gauges: dropped with the process
            _stage_archive(root, pending, kind, paths)
        for path in dead:
            os.replace(path, pending / "dead" / path.name)
        fsync_dir(pending)
        os.rename(pending, root / COMMITTED)  # the commit point
        fsync_dir(root)
        recover(root)
        return len(dead)


def _stage_archive(root: Path, pending: Path, kind: str, dead: list[Path]) -> None:
    name = f"{kind}_{ARCHIVE_ID}.db"
    archive = root / name
    merged: Values = read_values(archive) if archive.exists() else {}
    dead_set = {p.name for p in dead}
    before: dict[str, list[float]] = {}
    after_live: dict[str, list[float]] = {}
    if kind in _ADDITIVE:
        # Every file of this kind, in the order a scrape folds them.
        siblings = [Path(f) for f in scrape_order(str(p) for p in root.glob(f"{kind}_*.db"))]
        for path in siblings:
            for key, (value, _) in read_values(path).items():
                before.setdefault(key, []).append(value)
                if path.name not in dead_set and path.name != name:
                    after_live.setdefault(key, []).append(value)
    for path in sorted(dead):
        _combine(kind, merged, read_values(path))
    _never_smaller(kind, merged, before, after_live)
    _write_durably(pending / name, encode(merged))


# -- the scrape side -----------------------------------------------------------
def collect_locked(directory: str | os.PathLike[str], kinds: tuple[str, ...] = ()) -> list[Metric]:
    """The multi-process samples of ``directory``, read under the shared lock; with ``kinds``
    (``("counter", "gauge")``), only the files of those metric types, a fraction of a histogram-heavy read."""
    from prometheus_client.multiprocess import MultiProcessCollector

    root = Path(directory)
    if needs_recovery(root):
        with locked(root, exclusive=True):
            recover(root)
    with locked(root, exclusive=False):
        found = (p for p in root.glob("*.db") if not kinds or p.name.startswith(kinds))
        files = scrape_order(str(p) for p in found if has_header(p))
        return list(MultiProcessCollector.merge(files, accumulate=True))  # type: ignore[no-untyped-call]


class LockedCollector:
    """A drop-in for ``prometheus_client.multiprocess.MultiProcessCollector`` that
    reads under the directory's lock (and in archive-first order)."""

    def __init__(self, registry: CollectorRegistry | None, path: str | os.PathLike[str] | None = None) -> None:
        chosen = path or os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if not chosen or not os.path.isdir(chosen):
            raise ValueError(f"env PROMETHEUS_MULTIPROC_DIR is not set or not a directory: {chosen!r}")
        self.path = os.fspath(chosen)
        if registry is not None:
            registry.register(self)

    def collect(self) -> list[Metric]:
        return collect_locked(self.path)
