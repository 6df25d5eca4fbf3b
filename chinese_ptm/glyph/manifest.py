"""Write ``fonts.toml``, the manifest of the shipped font subsets (read back with tomllib by
:mod:`chinese_ptm.glyph.fonts`).

The standard library reads TOML but does not write it; the manifest holds few kinds of value (strings,
integers, code points, booleans, lists, inline tables of bare keys), written here with strings escaped
so that any vocabulary character survives a round trip.
"""

from __future__ import annotations

from pathlib import Path

HEADER = (
    "# The shipped fonts of chinese_ptm, in glyph-table order (one table plane per font).",
    "# Written by `chinese-ptm glyphs subset`; rerun it instead of editing by hand.",
)


class CodePoint(int):
    """An integer written in hex (0x4E00), as Unicode block bounds are read."""


def _escape(char: str) -> str:
    return f"\\u{ord(char):04X}" if ord(char) < 0x10000 else f"\\U{ord(char):08X}"


def toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    escaped = "".join(c if c.isprintable() else _escape(c) for c in escaped)
    return f'"{escaped}"'


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, CodePoint):
        return f"0x{value:04X}"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dict):  # an inline table; keys here are bare words (styles, range names)
        return "{ " + ", ".join(f"{key} = {toml_value(item)}" for key, item in value.items()) + " }"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    return toml_string(str(value))


def table_lines(header: str, fields: dict) -> list[str]:
    return [header, *(f"{key} = {toml_value(value)}" for key, value in fields.items()), ""]


def write_manifest(path: Path, subset: dict, tables: list[tuple[str, dict]]) -> None:
    """``subset`` is the [subset] table; ``tables`` are (array name, fields) in order, e.g.
    ("subset.vocabulary", {...}) or ("font", {...}), each written as one [[name]] entry."""
    lines = [*HEADER, "", *table_lines("[subset]", subset)]
    for name, fields in tables:
        lines += table_lines(f"[[{name}]]", fields)
    Path(path).write_text("\n".join(lines), encoding="utf-8")
