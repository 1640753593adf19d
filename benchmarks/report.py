"""Markdown tables: one per scenario, with medians, minima, peak RSS and envsync's ratios."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from harness import Row

Metric = Literal["seconds", "rss"]


@dataclass
class Table:
    """A scenario's rows over all workloads. Ratios divide medians (or peak RSS, for metric="rss")."""

    title: str
    about: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    metric: Metric = "seconds"


def seconds(value: float) -> str:
    if value < 1:
        return f"{value:.3f}"
    return f"{value:.2f}" if value < 100 else f"{value:.1f}"


def cell(text: str) -> str:
    """Text made safe for one Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ").strip()


def ratio(table: Table, row: Row, baseline_label: str) -> str:
    """row / baseline (same workload) on the table's metric, or a dash when either is missing."""
    baseline = next((r for r in table.rows if r.label == baseline_label and r.workload == row.workload), None)
    if baseline is None or not (row.ok and baseline.ok):
        return "—"
    if table.metric == "rss":
        return f"{row.peak_rss_mb / baseline.peak_rss_mb:.2f}×"
    return f"{row.median / baseline.median:.2f}×"


def ratio_columns(table: Table) -> list[str]:
    columns: list[str] = []
    for row in table.rows:
        columns += [title for title in row.ratios if title not in columns]
    return columns


def render_table(table: Table) -> str:
    columns = ratio_columns(table)
    head = ["tool", "workload", "median s", "min s", "runs", "peak RSS MB", *columns, "notes"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    failures: list[Row] = []
    for row in table.rows:
        if row.ok:
            values = [seconds(row.median), seconds(row.minimum), str(len(row.samples)), f"{row.peak_rss_mb:.0f}"]
        elif row.skipped and row.failure is not None:
            values = [f"skipped: {cell(row.failure.detail)}", "", "", ""]
        else:
            failures.append(row)
            summary = row.failure.summary if row.failure else "no samples"
            values = [f"**FAILED** ({len(failures)}): {cell(summary)[:160]}", "", "", ""]
        ratios = [ratio(table, row, row.ratios[c]) if c in row.ratios else "" for c in columns]
        lines.append("| " + " | ".join([cell(row.label), row.workload, *values, *ratios, cell(row.note)]) + " |")
    return "\n".join(lines) + "\n" + render_failures(failures)


def render_failures(failures: Sequence[Row]) -> str:
    """The command and stderr tail of each failed row, numbered as in the table."""
    if not failures:
        return ""
    parts = ["\nFailures:\n"]
    for number, row in enumerate(failures, 1):
        failure = row.failure
        command = failure.command if failure else "?"
        detail = failure.detail if failure else "no samples"
        parts.append(f"{number}. {row.label} ({row.workload}): `{cell(command)[:400]}`\n\n"
                     f"```\n{detail.strip()}\n```\n")
    return "\n".join(parts)


def render_report(header: Sequence[str], tables: Sequence[Table]) -> str:
    out = ["# envsync benchmarks: last run", "", *header, ""]
    for table in tables:
        out += [f"## {table.title}", "", table.about, "", render_table(table)]
        out += [f"- {note}" for note in table.notes]
        out.append("")
    return "\n".join(out).rstrip() + "\n"
