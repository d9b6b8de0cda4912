"""Metric system checks: open /metrics, several workers without a multiprocess dir, bad settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.checks import run_checks
from django.test import override_settings

from django_lantern import checks
from django_lantern.metrics import _workers

OPEN = ["0.0.0.0/0", "::/0"]


def _ids(*, deploy: bool = True) -> list[str]:
    return [m.id or "" for m in run_checks(include_deployment_checks=deploy) if (m.id or "").startswith("lantern.")]


def test_open_metrics_warns_at_deploy() -> None:
    """W010 when the allowed networks include everyone and there is no token; only with --deploy."""
    with override_settings(LANTERN={"METRICS_ALLOWED_NETWORKS": OPEN}):
        messages = checks.check_metrics_exposure()
        assert [m.id for m in messages] == ["lantern.W010"]
        assert "0.0.0.0/0" in messages[0].msg
        assert "lantern.W010" in _ids(deploy=True)
        assert "lantern.W010" not in _ids(deploy=False)


@pytest.mark.parametrize(
    ("lantern", "networks"),
    [
        ({}, "127.0.0.0/8, ::1/128, 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, fc00::/7"),  # the defaults
        ({"METRICS_ALLOWED_NETWORKS": ["10.0.0.0/8"]}, "10.0.0.0/8"),
        # The proxy we believe for client_ip is itself admitted.
        ({"METRICS_ALLOWED_NETWORKS": ["203.0.113.0/24"], "TRUSTED_PROXIES": ["203.0.113.7"]}, "203.0.113.0/24"),
    ],
)
def test_metrics_open_through_a_proxy_warns_at_deploy(lantern: dict[str, object], networks: str) -> None:
    """W013 when, without a token, the allowlist holds a whole loopback or private range (where
    reverse proxies live) or a trusted proxy: it names the networks and the three ways out."""
    with override_settings(LANTERN=lantern):
        (message,) = checks.check_metrics_exposure()
        assert message.id == "lantern.W013" and networks in message.msg
        assert "METRICS_BEARER_TOKEN" in (message.hint or "") and "at the proxy" in (message.hint or "")
        assert "lantern.W013" in _ids(deploy=True)
        assert "lantern.W013" not in _ids(deploy=False)


@pytest.mark.parametrize(
    "lantern",
    [
        {"METRICS_BEARER_TOKEN": "t0ken"},  # the default networks, with a token
        {"METRICS_ALLOWED_NETWORKS": OPEN, "METRICS_BEARER_TOKEN": "t0ken"},
        {"METRICS_ALLOWED_NETWORKS": OPEN, "METRICS_ENABLED": False},
        {"METRICS_ALLOWED_NETWORKS": ["203.0.113.0/24"]},
        {"METRICS_ALLOWED_NETWORKS": ["10.0.5.17/32", "fd00::17/128"]},  # the scrapers' own addresses
    ],
)
def test_protected_metrics_do_not_warn(lantern: dict[str, object]) -> None:
    """No W010 or W013 with a token, with metrics off, or with narrow networks."""
    with override_settings(LANTERN=lantern):
        assert checks.check_metrics_exposure() == []


def test_invalid_network_is_an_error() -> None:
    """E010 names each entry that is not an IP network."""
    with override_settings(LANTERN={"METRICS_ALLOWED_NETWORKS": ["10.0.0.0/8", "intranet"]}):
        messages = checks.check_metrics_networks()
    assert [m.id for m in messages] == ["lantern.E010"]
    assert "'intranet'" in messages[0].msg


def test_bad_build_info_setting_warns() -> None:
    """W012 when METRICS_RELEASE is not a string."""
    with override_settings(LANTERN={"METRICS_RELEASE": 42}):
        assert [m.id for m in checks.check_build_info_settings()] == ["lantern.W012"]


@pytest.fixture
def no_worker_hints(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for var in ("WEB_CONCURRENCY", "GUNICORN_CMD_ARGS", "PROMETHEUS_MULTIPROC_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("env", "conf", "warns"),
    [
        ({}, None, False),
        ({"WEB_CONCURRENCY": "4"}, None, True),
        ({"WEB_CONCURRENCY": "1"}, None, False),
        ({"GUNICORN_CMD_ARGS": "--bind 0.0.0.0:80 --workers 3"}, None, True),
        ({"GUNICORN_CMD_ARGS": "-w 1"}, None, False),
        ({"GUNICORN_CMD_ARGS": "--workers=2"}, None, True),
        ({}, "workers = 4\n", True),
        ({}, "workers = 1\n", False),
        ({}, "import multiprocessing\nworkers = multiprocessing.cpu_count() * 2 + 1\n", True),
        ({}, "workers = 4\nlantern_metrics.prepare_multiproc_dir()\n", False),
        ({"WEB_CONCURRENCY": "4", "PROMETHEUS_MULTIPROC_DIR": "/tmp/x"}, None, False),
    ],
)
def test_several_workers_without_multiproc_dir(
    no_worker_hints: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], conf: str | None, warns: bool
) -> None:
    """W011 when several workers are likely (env or ./gunicorn.conf.py), PROMETHEUS_MULTIPROC_DIR is unset
    and lantern cannot set it up in the workers (here: prometheus_client is imported before it)."""
    monkeypatch.setattr(_workers, "_decision", _workers._Decision(client_first=True))
    for key, val in env.items():
        monkeypatch.setenv(key, val)
    if conf is not None:
        (no_worker_hints / "gunicorn.conf.py").write_text(conf)
    ids = [m.id for m in checks.check_multiprocess_dir()]
    assert ids == (["lantern.W011"] if warns else [])


@pytest.mark.parametrize("blocked", ["client_first", "read-only tmp", None])
def test_several_workers_warn_only_where_lantern_cannot_set_up_the_directory(
    no_worker_hints: Path, monkeypatch: pytest.MonkeyPatch, blocked: str | None
) -> None:
    """gunicorn and uvicorn workers get a directory by themselves, except when the client came first or
    the temporary directory is not writable (a read-only root file system): then the workers refuse."""
    monkeypatch.setenv("WEB_CONCURRENCY", "4")
    monkeypatch.setattr(_workers, "_decision", _workers._Decision(client_first=blocked == "client_first"))
    unwritable = no_worker_hints / "not-there"  # as root, os.access ignores a directory's mode bits
    monkeypatch.setattr("tempfile.tempdir", str(unwritable if blocked == "read-only tmp" else no_worker_hints))
    messages = checks.check_multiprocess_dir()
    if blocked is None:
        assert messages == []
        return
    assert [m.id for m in messages] == ["lantern.W011"]
    assert "WEB_CONCURRENCY=4" in messages[0].msg
    assert ("imported before django_lantern" if blocked == "client_first" else "not writable") in messages[0].msg


def test_example_gunicorn_config_does_not_warn(no_worker_hints: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The example's own gunicorn.conf.py prepares the directory, so `check --deploy` stays quiet there."""
    monkeypatch.chdir(Path(__file__).resolve().parents[1] / "example")
    assert checks.check_multiprocess_dir() == []
