"""Compatibility matrix: the whole suite on the oldest and newest supported stacks.

    .venv/bin/nox                   # both sessions (what .ci/run does)
    .venv/bin/nox -s "matrix(3.13)"  # one of them
    .venv/bin/nox -- -k shutdown    # extra pytest arguments (both runs)

Each session runs the fast suite (what `make test` runs), the real-server
suite (`make test-server`) and then the system suite (`make test-system`).

Python 3.11 runs Django 5.2 (the oldest supported pair), Python 3.13 runs
Django 6.x. The interpreters come from pyenv when present (as on the CI
machine) or from PATH. The matrix sends a quarter of the requests that
`make test-system` sends (LANTERN_SYSTEM_SCALE=0.25), to stay within the CI
budget; every scenario still runs.
"""

from __future__ import annotations

import os
from pathlib import Path

import nox

# pyenv's interpreters, if installed, are found without activating pyenv (nox looks up `python3.X` on PATH).
PYENV = Path(os.environ.get("PYENV_ROOT", "/root/.pyenv")) / "versions"
for version in ("3.11.7", "3.13.0"):
    bin_dir = PYENV / version / "bin"
    if bin_dir.is_dir() and str(bin_dir) not in os.environ.get("PATH", ""):
        os.environ["PATH"] = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"

nox.options.sessions = ["matrix"]
# Inside .venv/ (already git-ignored, removed by `make clean`).
nox.options.envdir = ".venv/nox"
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True

MATRIX = [
    ("3.11", "Django>=5.2,<5.3"),
    ("3.13", "Django>=6.0,<7"),
]

PASSTHROUGH = (
    "DATABASE_URL",
    "REDIS_URL",
    "LANTERN_REQUIRE_SERVICES",
    "LANTERN_TEST_DB_NAME",
    "LANTERN_CACHE_PREFIX",
)


@nox.session(name="matrix")
@nox.parametrize("python,django", MATRIX, ids=[python for python, _ in MATRIX])
def matrix(session: nox.Session, django: str) -> None:
    """`make test`'s suite, the real-server suite (tests/server) and the system suite (tests/system), on one pair."""
    # `--group` needs pip >= 25.1; the venv's bundled pip may be older.
    session.install("--quiet", "--upgrade", "pip")
    session.install("--quiet", "-e", ".[orjson,postgres,redis]", "--group", "test", django)
    session.run(
        "python", "-c", "import django, sys; print('python', sys.version.split()[0], 'django', django.__version__)"
    )
    env = {name: os.environ[name] for name in PASSTHROUGH if name in os.environ}
    env.setdefault("LANTERN_SYSTEM_SCALE", os.environ.get("LANTERN_SYSTEM_SCALE", "0.25"))
    # A distinct database per interpreter, should two sessions ever run at once.
    env["LANTERN_TEST_DB_NAME"] = f"{env.get('LANTERN_TEST_DB_NAME', 'lantern_system')}_py{session.python}".replace(
        ".", ""
    )
    fast = "not system and not walk and not server"
    session.run("python", "-m", "pytest", "-q", "-n", "auto", "-m", fast, *session.posargs, env=env)
    session.run("python", "-m", "pytest", "-q", "-m", "server and not system and not walk", *session.posargs, env=env)
    session.run("python", "-m", "pytest", "-q", "-m", "system", "tests/system", *session.posargs, env=env)
