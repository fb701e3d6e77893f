"""What a run tells the user: the summary (counts per outcome, bad rows, failures) and the failed-rows file.

The failed-rows file holds every row that needs a fix (unreadable or unmappable rows, rows Constant Contact refused,
rows that failed after every retry) in the export's own format, so it can be fixed and given back to `backfill`:
a CSV keeps the header plus a `backfill_error` column (ignored when read back); JSONL keeps each line as it was and
the reasons are in the summary, by row number in both files.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from signup_relay.ops.backfill.checkpoint import write_atomically
from signup_relay.ops.backfill.reading import ERROR_COLUMN, BadRow, ExportFile, Row

BAD_ROW = "bad_row"  # the summary's outcome for a row that makes no sign-up
NEEDS_FIX = frozenset({BAD_ROW, "rejected", "failed"})


@dataclass(frozen=True)
class Failure:
    row: int
    outcome: str
    reason: str


@dataclass
class Summary:
    rows: int = 0
    counts: Counter[str] = field(default_factory=Counter)  # every row's outcome, earlier runs' included
    applied_now: int = 0  # rows applied by this run
    already_applied: int = 0  # rows the checkpoint had (skipped)
    failures: list[Failure] = field(default_factory=list)
    stopped: str | None = None  # why the run stopped early; a re-run resumes
    dry_run: bool = False

    def to_json(self, failed_file: Path | None) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "rows": self.rows,
            "counts": dict(sorted(self.counts.items())),
            "applied_now": self.applied_now,
            "already_applied": self.already_applied,
            "stopped": self.stopped,
            "failed_file": str(failed_file) if failed_file and self.failures else None,
            "failures": [vars(failure) for failure in self.failures],
        }

    def text(self, failed_file: Path | None) -> str:
        lines = [("dry run, nothing sent: " if self.dry_run else "") + f"{self.rows} rows"]
        lines += [f"  {outcome:<24} {count}" for outcome, count in sorted(self.counts.items())]
        if not self.dry_run:
            lines.append(f"  applied by this run {self.applied_now}; already applied earlier {self.already_applied}")
        for failure in self.failures[:50]:
            lines.append(f"  row {failure.row}: {failure.outcome}: {failure.reason}")
        if len(self.failures) > 50:
            lines.append(f"  ... {len(self.failures) - 50} more in the summary file")
        if failed_file and self.failures:
            lines.append(f"rows to fix and run again: {failed_file}")
        if self.stopped:
            lines.append(f"stopped early: {self.stopped}")
        return "\n".join(lines)


def failed_path(export: Path) -> Path:
    """`export.csv` -> `export.failed.csv`."""
    return export.with_name(f"{export.stem}.failed{export.suffix or '.' + 'csv'}")


def write_failed_rows(export: ExportFile, rows: list[tuple[Row | BadRow, str]], path: Path) -> None:
    """The rows (with their reason) in the export's format; nothing is written (an old file is removed) if none."""
    if not rows:
        path.unlink(missing_ok=True)
        return
    if export.format == "jsonl":
        write_atomically(path, "".join(row.line + "\n" for row, _ in rows))
        return
    out = io.StringIO()
    header = [name for name in export.header if name != ERROR_COLUMN]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*header, ERROR_COLUMN])
    for row, reason in rows:
        writer.writerow([*(row.cells.get(name, "") for name in header), reason])
    write_atomically(path, out.getvalue())


def write_summary(summary: Summary, path: Path, failed_file: Path | None) -> None:
    write_atomically(path, json.dumps(summary.to_json(failed_file), indent=2) + "\n")
