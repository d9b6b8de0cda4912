"""prometheus_client's multi-process files: their names, their byte layout, the directory's lock.

The primitives :mod:`django_lantern.metrics.archive` builds its merge and its
locked scrape from: which files belong to dead processes, how a file's values
are read and written (durably), and the ``flock`` every merge and scrape holds.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import struct
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

LOCK_NAME = ".lantern-metrics.lock"
PENDING = ".lantern-merge.pending"
COMMITTED = ".lantern-merge.commit"
ARCHIVE_ID = "archive"
LOCK_TIMEOUT = 5.0

# counter_123.db, histogram_123.db, summary_123.db, gauge_livesum_123.db ...
_FILE = re.compile(r"(counter|histogram|summary|gauge_([a-z]+))_([^_/]+)\.db")

Values = dict[str, tuple[float, float]]


class LockTimeout(Exception):
    """The metrics lock was not acquired in time."""


@contextlib.contextmanager
def locked(directory: str | os.PathLike[str], *, exclusive: bool, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Hold the directory's ``flock`` (bounded wait: a stuck holder cannot hang a worker)."""
    fd = os.open(os.path.join(directory, LOCK_NAME), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        mode = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, mode)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES) or time.monotonic() >= deadline:
                    raise LockTimeout(str(directory)) from exc
                time.sleep(0.002)
        yield
    finally:
        os.close(fd)  # closing releases the lock


# -- the client's file layout --------------------------------------------------
def read_values(path: str | os.PathLike[str]) -> Values:
    """A metric file's values; none for a file its process created but never sized (see :func:`has_header`)."""
    from prometheus_client.mmap_dict import MmapedDict

    if not has_header(Path(path)):
        return {}

    entries = MmapedDict.read_all_values_from_file(os.fspath(path))  # type: ignore[no-untyped-call]
    return {key: (value, ts) for key, value, ts, _ in entries}


def encode(values: Values) -> bytes:
    """The bytes prometheus_client's ``MmapedDict`` would hold, without its 64 KiB pre-allocation:
    a used-length header, then per key its length, the key padded to 8 bytes, value and timestamp."""
    body = bytearray()
    for key, (value, ts) in values.items():
        encoded = key.encode("utf-8")
        padded = encoded + b" " * (8 - (len(encoded) + 4) % 8)
        body += struct.pack(f"i{len(padded)}sdd", len(encoded), padded, value, ts)
    return struct.pack("i", 8 + len(body)) + b"\0" * 4 + bytes(body)


def write_durably(path: Path, data: bytes) -> None:
    with open(path, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# -- which files ---------------------------------------------------------------
def parse_name(name: str) -> tuple[str, str] | None:
    """``(kind, pid)`` of a metric file name (kind is ``counter`` or ``gauge_max`` ...)."""
    match = _FILE.fullmatch(name)
    return None if match is None else (match.group(1), match.group(3))


def alive(pid: str) -> bool:
    if not pid.isdigit():
        return True  # a custom process identifier: not ours to judge
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def dead_files(directory: Path, pids: Iterable[int] = ()) -> list[Path]:
    """Metric files of ``pids`` and of every other process that no longer exists."""
    named = {str(p) for p in pids}
    found = []
    for path in directory.glob("*.db"):
        parsed = parse_name(path.name)
        if parsed is None or parsed[1] == ARCHIVE_ID:
            continue
        pid = parsed[1]
        if pid in named or (pid != str(os.getpid()) and not alive(pid)):
            found.append(path)
    return found


def scrape_order(files: Iterable[str]) -> list[str]:
    """Archives first, then by name: the order every sum is folded in, merge and scrape alike."""
    return sorted(files, key=lambda f: (not os.path.basename(f).endswith(f"_{ARCHIVE_ID}.db"), f))


def has_header(path: Path) -> bool:
    """False for a file a starting worker has created but not yet sized.

    The client creates a file empty and then extends it; read in between, it
    has no used-length header and the client's reader raises ``struct.error``,
    which would turn the whole scrape into a 500. Such a file holds no values
    yet, and files only grow, so skipping it loses nothing.
    """
    try:
        return path.stat().st_size >= 8
    except FileNotFoundError:
        return False
