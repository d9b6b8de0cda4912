"""Several server workers and no ``PROMETHEUS_MULTIPROC_DIR``: exact totals anyway, or a refusal.

Each gunicorn or uvicorn worker is a process with counters of its own, so
without the client's multi-process mode a scrape shows whichever worker
answered it: 10 requests read as 5. prometheus_client picks its mode once,
when first imported, from ``PROMETHEUS_MULTIPROC_DIR``; this module runs when
``django_lantern.metrics`` is first imported (inside the worker's app load,
before any of lantern's metric modules import the client) and, in a worker
of a master that runs more than one, sets the variable to a directory of that
master's own: ``<tmp>/django-lantern-metrics-<master pid>-<master start>``,
made by whichever worker comes first (mode 0700, refused if someone else's).
Every worker of the master writes there, so every scrape sums all of them.

With no master hook to call, housekeeping happens at worker start: a new
worker folds the files of dead workers into the archive (as gunicorn's
``child_exit`` hook would; :mod:`django_lantern.metrics.archive`), and the
first worker of a master removes the directories of masters that have gone.

When the client was imported before lantern could decide (another package
imported it first), the totals cannot be made exact in this process:
``/metrics`` then answers 503 with :func:`refusal`'s text, and the app's
start-up logs it once as an ERROR. Nothing is done when the variable is set,
outside gunicorn and uvicorn, or with a single worker.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django_lantern.metrics._process_start import start_ticks

ENV = "PROMETHEUS_MULTIPROC_DIR"
PREFIX = "django-lantern-metrics-"
FIX = (
    "Set PROMETHEUS_MULTIPROC_DIR to an empty directory for the server, e.g. "
    '`PROMETHEUS_MULTIPROC_DIR="$(mktemp -d)" gunicorn ...`, or let django_lantern be imported before '
    "prometheus_client (docs/metrics.md, several workers)."
)


@dataclass(frozen=True)
class Workers:
    """This process is one of ``count`` workers of the ``server`` master ``master_pid``."""

    server: str
    count: int
    master_pid: int
    # The master was given no logging configuration: it writes its own lines in the server's text format.
    master_logs_text: bool = False


@dataclass
class _Decision:
    workers: Workers | None = None
    directory: str | None = None  # the directory this module chose, if it chose one
    refusal: str | None = None
    client_first: bool = False  # prometheus_client was imported before this package


_decision = _Decision()


def refusal() -> str | None:
    """Why ``/metrics`` must not answer in this process (it would show one worker's numbers), or None."""
    return _decision.refusal


def chosen_directory() -> str | None:
    """The directory lantern set ``PROMETHEUS_MULTIPROC_DIR`` to by itself, or None."""
    return _decision.directory


def blocker() -> str | None:
    """Why this module could not choose the directory in a worker of this configuration, or None.

    For ``manage.py check --deploy``, run with the same settings as the server.
    """
    if _decision.client_first:
        return "prometheus_client is imported before django_lantern"
    temp = tempfile.gettempdir()
    if not os.access(temp, os.W_OK | os.X_OK):
        return f"the temporary directory {temp} is not writable"
    return None


def _from_object(obj: object) -> Workers | None:
    """The workers, if ``obj`` is gunicorn's worker or arbiter, or uvicorn's config."""
    gunicorn_worker = sys.modules.get("gunicorn.workers.base")
    if gunicorn_worker is not None and isinstance(obj, gunicorn_worker.Worker):
        return Workers("gunicorn", int(obj.cfg.workers), int(obj.ppid), _gunicorn_default_logs(obj.cfg))
    arbiter = sys.modules.get("gunicorn.arbiter")
    if arbiter is not None and isinstance(obj, arbiter.Arbiter):  # preload_app: the app loads in the master
        return Workers("gunicorn", int(obj.cfg.workers), os.getpid(), _gunicorn_default_logs(obj.cfg))
    uvicorn_config = sys.modules.get("uvicorn.config")
    if uvicorn_config is not None and isinstance(obj, uvicorn_config.Config) and not obj.should_reload:
        default = isinstance(obj.log_config, dict) and "uvicorn.logging" in repr(obj.log_config.get("formatters"))
        return Workers("uvicorn", int(obj.workers or 1), os.getppid(), default)
    return None


def _gunicorn_default_logs(cfg: Any) -> bool:
    return not (cfg.logconfig_dict or cfg.logconfig_json or cfg.logconfig)


def detected() -> Workers | None:
    """The server found when this package was first imported, or None."""
    return _decision.workers


def detect() -> Workers | None:
    """The server this process is a worker of, found on the stack that is loading the app.

    gunicorn's worker (or, with ``preload_app``, its arbiter) and uvicorn's
    config are the frames' ``self`` there; they know the worker count. A
    process started any other way finds neither and is left alone.
    """
    if "gunicorn" not in sys.modules and "uvicorn" not in sys.modules:
        return None
    frame = sys._getframe(1)
    while frame is not None:
        obj = frame.f_locals.get("self")
        if obj is not None:
            found = _from_object(obj)
            if found is not None:
                return found
        frame = frame.f_back  # type: ignore[assignment]
    return None


def _master_alive(pid: int, start: str) -> bool:
    ticks = start_ticks(pid)
    if ticks is None:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return start == "0"  # no /proc: the pid alone decides
    return str(ticks) == start


def _remove_gone_masters(root: Path, keep: Path) -> None:
    """Directories of masters that have exited (this module made them; nothing removes them otherwise)."""
    for path in root.glob(PREFIX + "*"):
        pid, _, start = path.name[len(PREFIX) :].partition("-")
        if path == keep or not pid.isdigit():
            continue
        with contextlib.suppress(OSError):
            if path.lstat().st_uid == os.getuid() and not _master_alive(int(pid), start):
                shutil.rmtree(path, ignore_errors=True)


def _own_directory(workers: Workers) -> Path:
    """The master's directory, made if this is its first worker; OSError if it is not safely ours."""
    root = Path(tempfile.gettempdir())
    path = root / f"{PREFIX}{workers.master_pid}-{start_ticks(workers.master_pid) or 0}"
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        info = path.lstat()
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
            raise PermissionError(f"{path} exists and is not a private directory of this user") from None
    else:
        _remove_gone_masters(root, path)
    return path


def _fold_dead_workers(path: Path) -> None:
    from django_lantern.metrics.archive import merge_dead

    with contextlib.suppress(Exception):  # still counted when it fails; the next worker retries
        merge_dead(path)


def decide() -> None:
    """Run once, at the first import of ``django_lantern.metrics``."""
    _decision.client_first = "prometheus_client.values" in sys.modules
    workers = _decision.workers = detect()
    if os.environ.get(ENV) or os.environ.get(ENV.lower()):
        return
    if workers is None or workers.count <= 1:
        return
    where = f"one of {workers.count} {workers.server} workers (master pid {workers.master_pid})"
    if _decision.client_first:
        _decision.refusal = (
            f"/metrics is off in this process: it is {where}, PROMETHEUS_MULTIPROC_DIR is not set and "
            "prometheus_client was imported before django_lantern, so each worker would report only "
            f"its own requests. {FIX}"
        )
        return
    try:
        path = _own_directory(workers)
    except OSError as exc:
        _decision.refusal = (
            f"/metrics is off in this process: it is {where}, PROMETHEUS_MULTIPROC_DIR is not set "
            f"and no private directory could be made for it ({exc}). {FIX}"
        )
        return
    os.environ[ENV] = _decision.directory = str(path)
    _fold_dead_workers(path)
