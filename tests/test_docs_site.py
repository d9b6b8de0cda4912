"""The documentation site's own stylesheet: mkdocs.yml loads it, and code in tables never breaks mid-word."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_code_in_table_cells_breaks_only_at_spaces() -> None:
    mkdocs = (ROOT / "mkdocs.yml").read_text()
    sheets = re.findall(r"^extra_css:\n((?:  - \S+\n)+)", mkdocs, re.MULTILINE)
    assert sheets, "mkdocs.yml loads no extra_css"
    css = "".join((ROOT / "docs" / name).read_text() for name in re.findall(r"- (\S+)", sheets[0]))
    rule = re.search(r"table[^{]*\bcode\s*\{([^}]*)\}", css)
    assert rule, "no rule for code in table cells"
    assert "word-break: normal" in rule[1] and "overflow-wrap: normal" in rule[1]
