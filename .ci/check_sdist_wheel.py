"""`make dist`: the wheel in dist/ (built from the sdist) equals a wheel built straight from the tree.

``python -m build`` makes the sdist first and the wheel from it, so a file the
sdist leaves out would be missing from the published wheel while an editable
install, which reads the tree, still works. This builds a second wheel from the
source tree and compares the two member by member (names and bytes), and checks
the version in the file names is the package's one ``__version__``.

    python .ci/check_sdist_wheel.py dist
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _version() -> str:
    text = (ROOT / "src/django_lantern/__init__.py").read_text()
    match = re.search(r'^__version__ = "([^"]+)"$', text, re.MULTILINE)
    if not match:
        sys.exit("no __version__ in src/django_lantern/__init__.py")
    return match.group(1)


def _members(wheel: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(wheel) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def main(dist: Path) -> int:
    version = _version()
    wheels = sorted(dist.glob("*.whl"))
    sdists = sorted(dist.glob("*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        print(f"expected one wheel and one sdist in {dist}, found {wheels + sdists}")
        return 1
    wheel, sdist = wheels[0], sdists[0]
    for artifact in (wheel, sdist):
        if f"-{version}" not in artifact.name:
            print(f"{artifact.name} does not carry version {version}")
            return 1
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "build", "--wheel", "--outdir", tmp, str(ROOT)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        (direct,) = Path(tmp).glob("*.whl")
        from_sdist, from_tree = _members(wheel), _members(direct)
    if from_sdist.keys() != from_tree.keys():
        print("the wheel built from the sdist and the one built from the tree differ in files:")
        for name in sorted(from_sdist.keys() ^ from_tree.keys()):
            print("  only in", "sdist wheel:" if name in from_sdist else "tree wheel:", name)
        return 1
    differing = [name for name in from_sdist if from_sdist[name] != from_tree[name]]
    if differing:
        print("the two wheels differ in content:", ", ".join(sorted(differing)))
        return 1
    problem = _metadata_problem(from_sdist)
    if problem:
        print(problem)
        return 1
    modules = [name for name in from_sdist if name.endswith(".py")]
    print(f"ok: {wheel.name} ({len(from_sdist)} files, {len(modules)} modules) is what the tree builds; {sdist.name}")
    return 0


def _metadata_problem(members: dict[str, bytes]) -> str | None:
    """The published page: PACKAGE.md as the long description, and every [project.urls] entry."""
    import tomllib
    from email import message_from_bytes

    (name,) = [name for name in members if name.endswith(".dist-info/METADATA")]
    metadata = message_from_bytes(members[name])
    page = (ROOT / "PACKAGE.md").read_text()
    if metadata.get_payload().strip() != page.strip() or metadata["Description-Content-Type"] != "text/markdown":
        return "the wheel's long description is not PACKAGE.md (pyproject.toml readme)"
    urls = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]
    published = set(metadata.get_all("Project-URL") or [])
    missing = [label for label, url in urls.items() if f"{label}, {url}" not in published]
    return f"the wheel's metadata lacks the project URLs {missing}" if missing else None


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "dist")))
