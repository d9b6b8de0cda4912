"""The built wheel, installed as a user installs it, on a brand-new project set up by the quick start alone.

For no extras and then for each extra the wheel declares: a fresh virtual
environment, ``pip install <wheel>[extra]`` (never editable) plus gunicorn,
``pip check``; then ``django-admin startproject``, the settings lines of
docs/quickstart.md appended as they are printed there, ``manage.py check``,
and the site under gunicorn: every path the quick start curls answers (200,
``/readyz`` ready, ``/metrics`` in Prometheus format), the request id header
is echoed (and generated when absent), and the server log has exactly one
access line per request that is not a healthy probe (and none for those).

    python .ci/wheel_smoke.py dist [extra ...]     # default: "" and every extra
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "docs" / "quickstart.md"
# What each extra must make importable (and what must stay absent without it).
EXTRA_MODULES = {
    "sentry": "sentry_sdk",
    "otel": "opentelemetry.sdk.trace",
    "orjson": "orjson",
    "postgres": "psycopg",
    "redis": "redis",
}
GENERATED_ID = re.compile(r"[0-9a-f]{32}")


class SmokeFailure(Exception):
    pass


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise SmokeFailure(message)


def quickstart() -> tuple[str, str, list[str]]:
    """(the install command, the settings block, the paths curled) as docs/quickstart.md prints them."""
    text = QUICKSTART.read_text()
    blocks = re.findall(r"```(\w+)\n(.*?)```", text, re.DOTALL)
    install = next(line for lang, body in blocks if lang == "sh" for line in body.splitlines() if "pip install" in line)
    settings = next(body for lang, body in blocks if lang == "python" and body.startswith("# settings.py"))
    paths = re.findall(r"curl [^\n]*?http://127\.0\.0\.1:8000(/\S*)", text)
    return install.split("#")[0].strip(), settings, paths


def declared_extras(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        lines = archive.read(metadata).decode().splitlines()
    return [line.split(":", 1)[1].strip() for line in lines if line.startswith("Provides-Extra:")]


def run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        raise SmokeFailure(f"{' '.join(cmd)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str, request_id: str | None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers={"X-Request-Id": request_id} if request_id else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def install(venv: Path, wheel: Path, extra: str) -> Path:
    python = venv / "bin" / "python"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    target = f"{wheel}[{extra}]" if extra else str(wheel)
    # The outer pip installs into the new environment (--python): no pip bootstrap per venv.
    pip = [sys.executable, "-m", "pip", "--python", str(python)]
    run([*pip, "install", "--quiet", "--disable-pip-version-check", target, "gunicorn"])
    run([*pip, "check"])
    located = run([str(python), "-c", "import django_lantern; print(django_lantern.__file__)"]).stdout.strip()
    _check(located.startswith(str(venv)), f"django_lantern imported from {located}, not the installed wheel")
    for name, module in EXTRA_MODULES.items():
        probe = subprocess.run([str(python), "-c", f"import {module}"], capture_output=True, timeout=60)
        if name == extra:
            _check(probe.returncode == 0, f"[{extra}] installed but {module} does not import")
        elif not extra:
            _check(probe.returncode != 0, f"{module} is importable without the [{name}] extra")
    return python


def make_site(python: Path, workdir: Path, settings_block: str) -> Path:
    site = workdir / "site"
    site.mkdir()
    run([str(python.parent / "django-admin"), "startproject", "smokesite", str(site)])
    settings = site / "smokesite" / "settings.py"
    settings.write_text(settings.read_text() + "\n" + settings_block)
    run([str(python), "manage.py", "check"], cwd=site)
    return site


def serve_and_probe(python: Path, site: Path, paths: list[str], tag: str) -> tuple[int, int]:
    """Start gunicorn, request every path (with and without an id), stop it.

    Returns (requests sent, access lines expected).
    """
    port = free_port()
    log_path = site / "server.log"
    env = {**os.environ, "LANTERN_LOG_FORMAT": "json", "PYTHONUNBUFFERED": "1"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    cmd = [str(python.parent / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "1", "smokesite.wsgi"]
    with log_path.open("wb") as log:
        server = subprocess.Popen(cmd, cwd=site, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    sent: list[str] = []
    # Healthy probes (/healthz, /readyz answered 200 quickly) write no access line by default
    # (docs/logging.md); every other request writes exactly one.
    logged: list[str] = []
    try:
        deadline = time.monotonic() + 30
        while True:
            _check(server.poll() is None, f"gunicorn exited:\n{log_path.read_text()[-3000:]}")
            try:
                get(base + "/healthz", f"{tag}-start")
                sent.append(f"{tag}-start")
                break
            except OSError:
                _check(time.monotonic() < deadline, "gunicorn did not answer in 30 s")
                time.sleep(0.2)
        for index, path in enumerate(paths):
            request_id = f"{tag}-{index}"
            status, headers, body = get(base + path, request_id)
            sent.append(request_id)
            if path.rstrip("/") not in ("/healthz", "/readyz"):
                logged.append(request_id)
            _check(status == 200, f"{path}: HTTP {status}: {body[:300]!r}")
            _check(headers.get("X-Request-Id") == request_id, f"{path}: id not echoed: {headers}")
            if path.rstrip("/") == "/readyz":
                _check(json.loads(body)["status"] == "ready", f"/readyz: {body!r}")
            if path.rstrip("/") == "/metrics":
                _check(b"# TYPE http_server_requests_total counter" in body, f"/metrics: {body[:300]!r}")
        status, headers, _ = get(base + "/healthz", None)
        generated = headers.get("X-Request-Id", "")
        _check(status == 200 and GENERATED_ID.fullmatch(generated) is not None, f"no generated id: {headers}")
        sent.append(generated)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)
    records = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    access_ids = [r["request_id"] for r in records if r.get("logger") == "access"]
    _check(sorted(access_ids) == sorted(logged), f"access lines {access_ids} for requests {logged} (of {sent})")
    return len(sent), len(logged)


def smoke(wheel: Path, extra: str, install_line: str, settings_block: str, paths: list[str]) -> str:
    _check(install_line == "pip install django-lantern", f"the quick start installs with {install_line!r}")
    with tempfile.TemporaryDirectory(prefix="lantern-smoke-") as tmp:
        workdir = Path(tmp)
        python = install(workdir / "venv", wheel, extra)
        site = make_site(python, workdir, settings_block)
        count, lines = serve_and_probe(python, site, paths, f"smoke-{extra or 'bare'}")
    return f"{count} requests, {lines} access lines (healthy probes write none)"


def main(argv: list[str]) -> int:
    dist = Path(argv[0]) if argv else ROOT / "dist"
    (wheel,) = dist.glob("*.whl")
    install_line, settings_block, paths = quickstart()
    _check({"/healthz", "/readyz", "/metrics"} <= {p.rstrip("/") for p in paths}, f"quick start curls {paths}")
    extras = argv[1:] or ["", *declared_extras(wheel)]

    def one(extra: str) -> bool:
        label = f"[{extra}]" if extra else "(no extras)"
        started = time.monotonic()
        try:
            outcome = smoke(wheel, extra, install_line, settings_block, paths)
        except SmokeFailure as failure:
            print(f"FAIL {wheel.name} {label}: {failure}", flush=True)
            return False
        print(f"ok   {wheel.name} {label}: {outcome} ({time.monotonic() - started:.0f} s)", flush=True)
        return True

    # Two at a time: the installs wait on the network and the disk as much as on the CPU.
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(one, extras))
    failures = results.count(False)
    print(f"{len(extras) - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
