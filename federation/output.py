"""Output formats of the command line's read commands: ``-o table|wide|json|yaml``.

Each read command turns its answer into plain data (what JSON and YAML print)
and into table rows (what ``table`` and ``wide`` print); this module owns the
flag, the choice between the formats and the column layout, so every command
prints alike. Nothing here talks to a hub.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from collections.abc import Callable, Sequence

import yaml

FORMATS = ("table", "wide", "json", "yaml")


def add_output_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", choices=FORMATS, default=None, metavar="FORMAT",
                        help="output format: table (default), wide (more columns), json or yaml")
    # The spelling before -o existed; scripts keep working.
    parser.add_argument("--json", action="store_true", help="the same as -o json")


def chosen(args) -> str:
    if getattr(args, "output", None):
        return args.output
    return "json" if getattr(args, "json", False) else "table"


def table(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Left-aligned columns two spaces apart; empty cells show as "-"."""
    cells = [[str(c) for c in columns]] + [["-" if v in (None, "") else str(v) for v in row]
                                           for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in cells)


def render(fmt: str, data, table_text: Callable[[bool], str]) -> str:
    """``data`` as JSON or YAML, or ``table_text(wide)``."""
    if fmt == "json":
        return json.dumps(data, indent=2, default=str)
    if fmt == "yaml":
        return yaml.safe_dump(data, sort_keys=False, default_flow_style=False).rstrip()
    return table_text(fmt == "wide")


def plain(obj):
    """Dataclasses, tuples and dicts as JSON-ready data."""
    if hasattr(obj, "__dataclass_fields__"):
        return {k: plain(getattr(obj, k)) for k in obj.__dataclass_fields__}
    if isinstance(obj, (list, tuple)):
        return [plain(x) for x in obj]
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    return obj


def when(unix: float | None) -> str:
    """Unix seconds as UTC ``YYYY-MM-DDTHH:MM:SSZ`` ("-" for none)."""
    if not unix:
        return "-"
    return dt.datetime.fromtimestamp(unix, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
