"""What is running: the order the release is looked for in, the rule every value passes, the file, the cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import override_settings

from django_lantern import _release, buildinfo, conf
from django_lantern._validators import release_text

ROOT = Path(__file__).resolve().parents[1]


def _cfg(**lantern: object) -> conf.LanternSettings:
    built, errors = conf.build_settings(lantern)
    assert errors == []
    return built


def _file(tmp_path: Path, **content: object) -> str:
    path = tmp_path / "build-info.json"
    path.write_text(json.dumps(content))
    return str(path)


@pytest.mark.parametrize(
    ("lantern", "environ", "release", "source"),
    [
        (
            {"RELEASE": "1.4.2", "METRICS_RELEASE": "m"},
            {"SENTRY_RELEASE": "s", "GIT_COMMIT": "abc"},
            "1.4.2",
            "LANTERN['RELEASE']",
        ),
        ({"METRICS_RELEASE": "m"}, {"SENTRY_RELEASE": "s", "GIT_COMMIT": "abc"}, "m", "LANTERN['METRICS_RELEASE']"),
        ({}, {"SENTRY_RELEASE": "s", "DD_VERSION": "d", "GIT_COMMIT": "abc"}, "s", "SENTRY_RELEASE"),
        ({}, {"DD_VERSION": "d", "GIT_COMMIT": "abc"}, "d", "DD_VERSION"),
        ({}, {"GITHUB_SHA": "def", "GIT_COMMIT": "abc"}, "abc", "GIT_COMMIT"),
        ({}, {"CI_COMMIT_SHA": "0f0f", "SOURCE_VERSION": "beef"}, "beef", "SOURCE_VERSION"),
        ({}, {"K_REVISION": "svc-00042-xyz"}, None, None),  # a Cloud Run revision is not a commit
        ({}, {}, None, None),
    ],
)
def test_resolution_order(lantern: dict[str, object], environ: dict[str, str], release: str, source: str) -> None:
    """The setting, its older name, SENTRY_RELEASE, DD_VERSION, then the commit variables in their order."""
    found = _release.resolve(_cfg(BUILD_INFO_FILE=None, **lantern), environ)
    assert (found.release, found.source) == (release, source)


def test_commit_is_the_commit_whatever_names_the_release() -> None:
    found = _release.resolve(_cfg(RELEASE="1.4.2", BUILD_INFO_FILE=None), {"GIT_COMMIT": "abc123"})
    assert (found.release, found.commit) == ("1.4.2", "abc123")


def test_an_unusable_variable_is_skipped() -> None:
    """Environment variables can hold anything: a value that breaks the rule is passed over, not cut or used."""
    environ = {"SENTRY_RELEASE": "two words", "DD_VERSION": "x" * 129, "GIT_COMMIT": "abc\nlevel=error"}
    environ["GITHUB_SHA"] = "feedface"
    found = _release.resolve(_cfg(BUILD_INFO_FILE=None), environ)
    assert (found.release, found.source, found.commit) == ("feedface", "GITHUB_SHA", "feedface")


@pytest.mark.parametrize("value", ["1.4.2", "v1.4.2-3-gabc", "shop@2024.05.01+build.7", "a" * 128, " 1.0 "])
def test_usable_releases(value: str) -> None:
    assert release_text(value) == value.strip()


@pytest.mark.parametrize(
    "value", ["", " ", "a" * 129, "feature/x", "..", ".hidden", "two words", "tab\there", "é1", 42, None, "a\\b"]
)
def test_unusable_releases(value: object) -> None:
    assert release_text(value) is None


def test_release_setting_is_validated() -> None:
    """A bad LANTERN["RELEASE"] stops the start-up with a message naming it, like every setting."""
    _, errors = conf.build_settings({"RELEASE": "not a release"})
    assert len(errors) == 1 and "LANTERN['RELEASE']" in errors[0] and "'not a release'" in errors[0]
    _, errors = conf.build_settings({"RELEASE": 3})
    assert len(errors) == 1


def test_status_path_must_differ_from_the_probes() -> None:
    _, errors = conf.build_settings({"STATUS_PATH": "/metrics/"})
    assert any("must differ" in e and "STATUS_PATH" in e for e in errors)


def test_build_info_file_is_the_last_resort(tmp_path: Path) -> None:
    """The file's release, else its commit; its commit, build time and version are read either way."""
    path = _file(tmp_path, release="2024.05", commit="cafe01", version="3.1.0", build_time="2024-05-01T10:00:00Z")
    found = _release.resolve(_cfg(BUILD_INFO_FILE=path), {})
    assert found == _release.Identity("2024.05", path, "cafe01", "2024-05-01T10:00:00Z", "3.1.0", None)
    path = _file(tmp_path, commit="cafe01")
    assert _release.resolve(_cfg(BUILD_INFO_FILE=path), {}).release == "cafe01"
    found = _release.resolve(_cfg(BUILD_INFO_FILE=path), {"GIT_COMMIT": "abc123"})
    assert (found.release, found.commit) == ("abc123", "abc123")  # the running environment's word wins


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        "[1, 2]",
        json.dumps({"release": "a b", "commit": 7, "build_time": "yesterday"}),
        json.dumps({"release": "ok", "pad": "x" * 5000}),
    ],
)
def test_a_bad_build_info_file_gives_nothing(tmp_path: Path, content: str) -> None:
    """Malformed, the wrong shape, unusable values or too large: nothing from the file, and no error."""
    path = tmp_path / "build-info.json"
    path.write_text(content)
    found = _release.resolve(_cfg(BUILD_INFO_FILE=str(path)), {})
    assert (found.release, found.commit, found.build_time, found.version) == (None, None, None, None)


def test_missing_build_info_file_gives_nothing(tmp_path: Path) -> None:
    assert _release.resolve(_cfg(BUILD_INFO_FILE=str(tmp_path / "absent.json")), {}).release is None


def test_environment_is_the_setting_else_sentry_environment() -> None:
    assert _release.resolve(_cfg(METRICS_ENVIRONMENT="prod"), {"SENTRY_ENVIRONMENT": "x"}).environment == "prod"
    assert _release.resolve(_cfg(), {"SENTRY_ENVIRONMENT": " staging "}).environment == "staging"
    assert _release.resolve(_cfg(), {}).environment is None


def test_resolved_once_then_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The hot path never resolves: a changed variable is not seen until settings change (or a restart)."""
    monkeypatch.setenv("GIT_COMMIT", "abc123")
    first = _release.identity()
    monkeypatch.setenv("GIT_COMMIT", "fff999")
    assert _release.identity() is first and first.release == "abc123"
    with override_settings(LANTERN={"RELEASE": "9.9"}):
        assert _release.identity().release == "9.9"
    assert _release.identity().release == "fff999"


def test_before_settings_are_loaded_the_setting_is_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """A formatter used before Django's settings exist resolves without them, and never loads them."""
    monkeypatch.setenv("GIT_COMMIT", "abc123")
    code = (
        "import django.conf as c; from django_lantern import _release; "
        "print(_release.identity().release, c.settings.configured)"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "PYTHONPATH": str(ROOT / "example")}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["abc123", "False"]


# -- python -m django_lantern.buildinfo -----------------------------------------


def test_buildinfo_writes_what_the_reader_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The command's file, read back at run time, gives its release, commit, version and build time."""
    out = tmp_path / "build-info.json"
    assert buildinfo.main(["--output", str(out), "--commit", "abc123", "--version", "3.1.0"]) == 0
    written = json.loads(out.read_text())
    assert written["commit"] == "abc123" and written["version"] == "3.1.0" and "release" not in written
    found = _release.resolve(_cfg(BUILD_INFO_FILE=str(out)), {})
    assert (found.release, found.commit, found.version, found.build_time) == (
        "abc123",
        "abc123",
        "3.1.0",
        written["build_time"],
    )
    assert list(tmp_path.iterdir()) == [out]  # no temporary file left behind


def test_buildinfo_takes_the_commit_from_git(tmp_path: Path) -> None:
    """Without --commit or a CI variable, ``git rev-parse HEAD`` in the build's working directory."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(
        [
            "git",
            "-C",
            str(tmp_path),
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "x",
        ],
        check=True,
    )
    head = subprocess.run(["git", "-C", str(tmp_path), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    env = {key: value for key, value in os.environ.items() if key not in _release.COMMIT_VARIABLES}
    done = subprocess.run(
        [sys.executable, "-m", "django_lantern.buildinfo", "--release", "shop@1.0"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    written = json.loads((tmp_path / "build-info.json").read_text())
    assert written["commit"] == head.strip() and written["release"] == "shop@1.0"
    assert json.loads(done.stdout) == written


def test_buildinfo_refuses_an_unusable_value(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        buildinfo.main(["--output", str(tmp_path / "b.json"), "--release", "feature/x"])
    assert exited.value.code == 2 and "--release 'feature/x'" in capsys.readouterr().err
    assert not (tmp_path / "b.json").exists()


def test_buildinfo_empty_values_are_not_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--commit "$GIT_COMMIT"`` with the build argument unset falls back to the variables (then git)."""
    monkeypatch.setenv("GITHUB_SHA", "feedface")
    out = tmp_path / "b.json"
    assert buildinfo.main(["--output", str(out), "--commit", "", "--release", ""]) == 0
    written = json.loads(out.read_text())
    assert written["commit"] == "feedface" and "release" not in written
