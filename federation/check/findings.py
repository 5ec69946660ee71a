"""What a check found (pure): one ``Finding`` per check, and the mesh-wide agreement."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

OK, FAIL, WARN = "ok", "fail", "warn"
OUTCOMES = (OK, FAIL, WARN)
MARKS = {OK: "✓", FAIL: "✗", WARN: "‼"}


@dataclass(frozen=True)
class Finding:
    scope: str  # "hub", a cluster's name, or "mesh"
    check: str
    outcome: str
    detail: str = ""
    fix: str = ""

    def __post_init__(self):
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome {self.outcome!r}: expected one of {', '.join(OUTCOMES)}")

    def to_dict(self) -> dict:
        return {"scope": self.scope, "check": self.check, "outcome": self.outcome,
                "detail": self.detail, "fix": self.fix}


def failed(findings: Iterable[Finding]) -> bool:
    return any(f.outcome == FAIL for f in findings)


def agreement(what: str, values: Mapping[str, str], fix: str) -> Finding:
    """One mesh-wide finding: every cluster where ``what`` is readable has the same value."""
    known = {cluster: value for cluster, value in values.items() if value}
    if not known:
        return Finding("mesh", f"{what} agrees across members", WARN,
                       "not readable in any member", fix)
    distinct = sorted(set(known.values()))
    if len(distinct) == 1:
        return Finding("mesh", f"{what} agrees across members", OK,
                       f"{distinct[0]} ({len(known)} of {len(values)} member(s) readable)")
    by_value = "; ".join(f"{value}: {', '.join(sorted(c for c, v in known.items() if v == value))}"
                         for value in distinct)
    return Finding("mesh", f"{what} agrees across members", FAIL, f"differs: {by_value}", fix)


def format_findings(findings: Iterable[Finding]) -> str:
    """Grouped by scope, one ✓/✗/‼ line per check, each ✗ and ‼ followed by its fix."""
    findings = list(findings)
    lines: list[str] = []
    scope = None
    for f in findings:
        if f.scope != scope:
            scope = f.scope
            title = {"hub": "hub", "mesh": "mesh"}.get(scope, f"cluster {scope}")
            if lines:
                lines.append("")
            lines.append(title)
            lines.append("-" * len(title))
        detail = f": {f.detail}" if f.detail else ""
        lines.append(f"{MARKS[f.outcome]} {f.check}{detail}")
        if f.fix and f.outcome != OK:
            lines.append(f"    fix: {f.fix}")
    fails = sum(f.outcome == FAIL for f in findings)
    warns = sum(f.outcome == WARN for f in findings)
    lines.append("")
    lines.append(f"Status check results are {'✗' if fails else '✓'} "
                 f"({len(findings) - fails - warns} ok, {fails} failed, {warns} warning(s))")
    return "\n".join(lines)
