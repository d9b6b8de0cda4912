"""Dead workers' metric files folded into archives: exact totals, bounded files, crash-safe, scrape-safe."""

from __future__ import annotations

import itertools
import random
import threading
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.mmap_dict import MmapedDict, mmap_key

from django_lantern.metrics import archive

# Process ids no process can have (above the kernel's pid_max), so they count as dead.
DEAD = 900_000_000


def _write(directory: Path, name: str, values: dict[str, tuple[float, float]]) -> None:
    """A metric file exactly as prometheus_client writes it."""
    mmap = MmapedDict(str(directory / name))
    for key, (value, ts) in values.items():
        mmap.write_value(key, value, ts)
    mmap.close()


def _key(metric: str, sample: str, **labels: str) -> str:
    return mmap_key(metric, sample, list(labels), list(labels.values()), "help")


REQUESTS = _key("requests", "requests_total", route="/")
LATENCY_SUM = _key("latency", "latency_sum")
LATENCY_BUCKET = _key("latency", "latency_bucket", le="0.1")
READY = _key("ready", "ready")
PEAK = _key("peak", "peak")
BUSY = _key("busy", "busy")


def _worker(directory: Path, pid: int, n: float, *, ready_at: float = 0.0) -> None:
    """One worker's files, each moved into place whole (a scrape never sees one half-created)."""
    staging = directory.parent / f"{directory.name}-staging"
    staging.mkdir(exist_ok=True)
    _write_files(staging, pid, n, ready_at)
    for path in staging.iterdir():
        path.rename(directory / path.name)


def _write_files(directory: Path, pid: int, n: float, ready_at: float) -> None:
    _write(directory, f"counter_{pid}.db", {REQUESTS: (n, 0.0)})
    _write(directory, f"histogram_{pid}.db", {LATENCY_SUM: (n / 10, 0.0), LATENCY_BUCKET: (n, 0.0)})
    _write(directory, f"gauge_mostrecent_{pid}.db", {READY: (pid % 2, ready_at)})
    _write(directory, f"gauge_max_{pid}.db", {PEAK: (n, 0.0)})
    _write(directory, f"gauge_livesum_{pid}.db", {BUSY: (1.0, 0.0)})
    _write(directory, f"gauge_all_{pid}.db", {BUSY: (1.0, 0.0)})


def totals(directory: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for metric in archive.collect_locked(directory)
        for s in metric.samples
    }


def _total(directory: Path, name: str) -> float:
    return sum(v for (sample, _), v in totals(directory).items() if sample == name)


def test_dead_workers_fold_into_one_archive_per_kind_with_exact_totals(tmp_path: Path) -> None:
    """Counters, histograms and sum/max/mostrecent gauges keep their totals; all and live gauges go with the process."""
    for i in range(5):
        _worker(tmp_path, DEAD + i, float(i + 1), ready_at=100.0 + i)
    expected_requests = _total(tmp_path, "requests_total")
    assert expected_requests == 15.0
    removed = archive.merge_dead(tmp_path)
    assert removed == 30
    assert sorted(p.name for p in tmp_path.glob("*.db")) == [
        "counter_archive.db",
        "gauge_max_archive.db",
        "gauge_mostrecent_archive.db",
        "histogram_archive.db",
    ]
    after = totals(tmp_path)
    assert _total(tmp_path, "requests_total") == 15.0
    assert after[("latency_count", ())] == 15.0 and after[("latency_sum", ())] == pytest.approx(1.5)
    assert after[("peak", ())] == 5.0
    # The newest write (pid DEAD + 4, at t=104) wins, as it did before.
    assert after[("ready", ())] == float((DEAD + 4) % 2)
    assert not any(name == "busy" for name, _ in after)


def test_live_workers_are_never_touched(tmp_path: Path) -> None:
    """Files of this process (alive) stay as they are; only the dead one is archived."""
    import os

    _worker(tmp_path, os.getpid(), 7.0)
    _worker(tmp_path, DEAD, 3.0)
    archive.merge_dead(tmp_path, [DEAD])
    assert (tmp_path / f"counter_{os.getpid()}.db").exists()
    assert (tmp_path / f"gauge_livesum_{os.getpid()}.db").exists()
    assert not list(tmp_path.glob(f"*_{DEAD}.db"))
    assert _total(tmp_path, "requests_total") == 10.0
    assert _total(tmp_path, "busy") == 2.0  # the live worker's livesum and all gauges; the dead one's are gone


def test_many_recycles_keep_the_directory_bounded(tmp_path: Path) -> None:
    """60 dead workers, merged one at a time: four archive files, about 1 KiB, and the exact sum."""
    for i in range(60):
        _worker(tmp_path, DEAD + i, 1.0)
        archive.merge_dead(tmp_path, [DEAD + i])
    files = list(tmp_path.glob("*.db"))
    assert len(files) == 4
    assert sum(f.stat().st_size for f in files) < 4096
    assert _total(tmp_path, "requests_total") == 60.0


@pytest.mark.parametrize("crash_at", ["staging", "moving", "commit", "roll-forward"])
def test_a_merge_that_dies_midway_counts_every_value_exactly_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crash_at: str
) -> None:
    """Whatever step the merge stops at, the next scrape (which recovers) shows the same totals."""
    _worker(tmp_path, DEAD, 4.0)
    archive.merge_dead(tmp_path)  # an archive exists already
    _worker(tmp_path, DEAD + 1, 6.0)
    before = totals(tmp_path)

    class Crash(Exception):
        pass

    real_replace, real_rename, real_recover = archive.os.replace, archive.os.rename, archive.recover
    calls = {"recover": 0}

    def replace(src: Any, dst: Any) -> None:
        if crash_at == "moving" and "dead" in str(dst):
            raise Crash
        real_replace(src, dst)

    def rename(src: Any, dst: Any) -> None:
        if crash_at == "commit":
            raise Crash
        real_rename(src, dst)

    def write(path: Path, data: bytes) -> None:
        raise Crash

    def recover(root: Path) -> None:
        calls["recover"] += 1
        if crash_at == "roll-forward" and calls["recover"] == 2:
            raise Crash
        real_recover(root)

    monkeypatch.setattr(archive.os, "replace", replace)
    monkeypatch.setattr(archive.os, "rename", rename)
    monkeypatch.setattr(archive, "recover", recover)
    if crash_at == "staging":
        monkeypatch.setattr(archive, "_write_durably", write)
    with pytest.raises(Crash):
        archive.merge_dead(tmp_path)
    monkeypatch.undo()
    assert archive.needs_recovery(tmp_path)

    def counted(samples: dict[Any, float]) -> dict[Any, float]:
        # Everything but the dead pid's live gauge, which goes once its merge commits.
        return {key: value for key, value in samples.items() if key[0] != "busy"}

    assert counted(totals(tmp_path)) == counted(before)
    assert not archive.needs_recovery(tmp_path)
    archive.merge_dead(tmp_path)
    assert totals(tmp_path) == counted(before)
    assert len(list(tmp_path.glob("*.db"))) == 4


def test_float_sums_never_come_out_smaller_after_regrouping(tmp_path: Path) -> None:
    """A histogram _sum is a counter: merging a dead worker between live ones never lowers it by an ulp."""
    rng = random.Random(7)
    lowered = 0
    for trial in range(100):
        directory = tmp_path / str(trial)
        directory.mkdir()
        values = [rng.uniform(0, 1000) for _ in range(4)]
        _write(directory, "histogram_archive.db", {LATENCY_SUM: (values[0], 0.0)})
        # Scrape order is by name: the dead worker's file sorts between two live ones
        # (non-numeric process identifiers, which are never judged dead).
        _write(directory, "histogram_0live.db", {LATENCY_SUM: (values[1], 0.0)})
        _write(directory, f"histogram_{DEAD}.db", {LATENCY_SUM: (values[2], 0.0)})
        _write(directory, "histogram_live.db", {LATENCY_SUM: (values[3], 0.0)})
        before = _total(directory, "latency_sum")
        naive = ((values[0] + values[2]) + values[1]) + values[3]
        lowered += naive < before
        archive.merge_dead(directory, [DEAD])
        assert _total(directory, "latency_sum") >= before
    assert lowered > 0  # plain regrouping would have lowered some totals


def test_concurrent_scrapes_never_see_a_counter_go_down(tmp_path: Path) -> None:
    """Scrapes running while 100 workers are archived: every total is >= the previous one, none fails."""
    seen: list[float] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def scrape() -> None:
        while not done.is_set() and len(seen) < 5000:
            try:
                seen.append(_total(tmp_path, "requests_total"))
            except BaseException as exc:  # any failure is the finding
                errors.append(exc)
                return

    _worker(tmp_path, DEAD, 1.0)
    scraper = threading.Thread(target=scrape)
    scraper.start()
    try:
        for i in range(1, 100):
            _worker(tmp_path, DEAD + i, 1.0)
            archive.merge_dead(tmp_path, [DEAD + i - 1])
    finally:
        done.set()
        scraper.join(timeout=30)
    assert not errors
    assert len(seen) > 10
    assert all(b >= a for a, b in itertools.pairwise(seen)), seen
    assert _total(tmp_path, "requests_total") == 100.0


def test_a_file_a_starting_worker_has_not_sized_yet_is_skipped(tmp_path: Path) -> None:
    """The client creates its file empty, then extends it: a scrape in between reads the others, not a struct.error."""
    _worker(tmp_path, DEAD, 2.0)
    (tmp_path / "counter_123.db").write_bytes(b"")
    (tmp_path / "histogram_123.db").write_bytes(b"\0\0")
    assert _total(tmp_path, "requests_total") == 2.0


def test_a_dead_worker_that_never_sized_its_file_is_still_archived(tmp_path: Path) -> None:
    """A worker killed between creating and sizing its file: the empty file goes, the merge does not fail."""
    _worker(tmp_path, DEAD, 2.0)
    (tmp_path / f"counter_{DEAD + 1}.db").write_bytes(b"")
    assert archive.merge_dead(tmp_path) == 7
    assert not list(tmp_path.glob(f"*_{DEAD + 1}.db"))
    assert _total(tmp_path, "requests_total") == 2.0


def test_series_only_live_workers_have_do_not_break_the_merge(tmp_path: Path) -> None:
    """A live worker's series that no dead worker and no archive has (a new route): the merge still succeeds."""
    import os

    _write(tmp_path, f"counter_{os.getpid()}.db", {_key("requests", "requests_total", route="/new/"): (5.0, 0.0)})
    _write(tmp_path, f"histogram_{os.getpid()}.db", {_key("latency", "latency_sum", route="/new/"): (0.5, 0.0)})
    _worker(tmp_path, DEAD, 2.0)
    assert archive.merge_dead(tmp_path, [DEAD]) == 6
    assert _total(tmp_path, "requests_total") == 7.0
