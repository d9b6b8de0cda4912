"""Write the build-info file at image build time: ``python -m django_lantern.buildinfo``.

In a Dockerfile, after the source is copied and while ``.git`` is still there
(or with the commit passed in)::

    RUN python -m django_lantern.buildinfo --output build-info.json

It records the commit (``--commit``, else the first of the CI/PaaS commit
variables, else ``git rev-parse HEAD``), the build time (now, UTC), and
``--release`` / ``--version`` when given. Django is not needed, so no settings
or secrets are needed at build time. At run time django-lantern reads the file
named by ``LANTERN["BUILD_INFO_FILE"]`` (default ``build-info.json`` in the
working directory) when no setting or variable names the release
(``docs/status.md``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime

from django_lantern._release import COMMIT_VARIABLES
from django_lantern._validators import release_text

__all__ = ["build_info", "main"]


def git_commit(cwd: str | None = None) -> str | None:
    """``git rev-parse HEAD`` in ``cwd``, or None without git or a repository."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return release_text(done.stdout) if done.returncode == 0 else None


def build_info(*, commit: str | None = None, release: str | None = None, version: str | None = None) -> dict[str, str]:
    """The file's content: every value checked by the same rule the reader applies.

    An empty value is not given (``--commit "$GIT_COMMIT"`` with the build argument unset)."""
    commit, release, version = commit or None, release or None, version or None
    found = commit or next((os.environ[name] for name in COMMIT_VARIABLES if os.environ.get(name)), None)
    info = {
        "commit": release_text(found) if found else git_commit(),
        "release": release_text(release),
        "version": release_text(version),
        "build_time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    for name, given in (("commit", commit), ("release", release), ("version", version)):
        if given is not None and info[name] is None:
            raise ValueError(
                f"--{name} {given!r}: up to 128 letters, digits and ._:@+~=- starting with one of the first two"
            )
    return {key: value for key, value in info.items() if value is not None}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m django_lantern.buildinfo", description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="build-info.json", help="where to write (default: build-info.json)")
    parser.add_argument("--commit", help="the commit (default: a CI variable, else git rev-parse HEAD)")
    parser.add_argument("--release", help="the release name, when it is not the commit")
    parser.add_argument("--version", dest="version", help="the project's version, shown by /statusz")
    args = parser.parse_args(argv)
    try:
        info = build_info(commit=args.commit, release=args.release, version=args.version)
    except ValueError as exc:
        parser.error(str(exc))
    directory = os.path.dirname(os.path.abspath(args.output))
    # Written beside the target and renamed: a reader never sees half a file.
    with tempfile.NamedTemporaryFile("w", dir=directory, delete=False, suffix=".tmp", encoding="utf-8") as out:
        json.dump(info, out, indent=2, sort_keys=True)
        out.write("\n")
    os.chmod(out.name, 0o644)
    os.replace(out.name, args.output)
    sys.stdout.write(json.dumps(info, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
