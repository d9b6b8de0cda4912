"""A reader for the small YAML subset of the docs' Kubernetes manifest, for when PyYAML is absent.

Block mappings and sequences by indentation, ``key: value`` scalars (plain,
quoted, integers), JSON-style flow lists, ``#`` comments. Anything else is an
error rather than a guess, so the docs stay in the subset.
"""

from __future__ import annotations

import json
import re
from typing import Any

_COMMENT = re.compile(r"\s+#.*$")


def _scalar(text: str) -> Any:
    if text.startswith(("[", "{")):
        return json.loads(text)
    if text[:1] in "\"'":
        if text[-1:] != text[0]:
            raise ValueError(f"unterminated string: {text!r}")
        return text[1:-1]
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    return {"true": True, "false": False}.get(text, text)


def _lines(source: str) -> list[tuple[int, str]]:
    out = []
    for raw in source.splitlines():
        line = raw if raw.lstrip().startswith(("'", '"')) else _COMMENT.sub("", raw)
        if line.strip() and not line.lstrip().startswith("#") and line.strip() != "---":
            out.append((len(line) - len(line.lstrip(" ")), line.strip()))
    return out


def _block(lines: list[tuple[int, str]], i: int, indent: int) -> tuple[Any, int]:
    if lines[i][1].startswith("- "):
        items: list[Any] = []
        while i < len(lines) and lines[i][0] == indent and lines[i][1].startswith("- "):
            # "- key: v" opens a mapping whose keys sit two columns further in.
            lines[i] = (indent + 2, lines[i][1][2:])
            value, i = _block(lines, i, indent + 2)
            items.append(value)
        return items, i
    mapping: dict[str, Any] = {}
    while i < len(lines) and lines[i][0] == indent:
        key, sep, rest = lines[i][1].partition(":")
        if not sep:
            raise ValueError(f"not a key: {lines[i][1]!r}")
        rest = rest.strip()
        i += 1
        if rest:
            mapping[key] = _scalar(rest)
        elif i < len(lines) and lines[i][0] > indent:
            mapping[key], i = _block(lines, i, lines[i][0])
        elif i < len(lines) and lines[i][0] == indent and lines[i][1].startswith("- "):
            mapping[key], i = _block(lines, i, indent)  # a sequence at the key's own indentation
        else:
            mapping[key] = None
    return mapping, i


def load(source: str) -> Any:
    lines = _lines(source)
    value, end = _block(lines, 0, lines[0][0])
    if end != len(lines):
        raise ValueError(f"unparsed from line {lines[end][1]!r}")
    return value
