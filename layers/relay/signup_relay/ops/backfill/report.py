"""What a run tells the user: the summary (counts per outcome, bad rows, failures) and the failed-rows file.

The failed-rows file holds every row that needs a fix (unreadable or unmappable rows, rows Constant Contact refused,
rows that failed after every retry) in the export's own format, so it can be fixed and given back to `backfill`:
a CSV keeps the header plus a `backfill_error` column (ignored when read back); JSONL keeps each line as it was and
the reasons are in the summary, by row number in both files.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from signup_relay.ops.backfill.checkpoint import write_atomically
from signup_relay.ops.backfill.reading import ERROR_COLUMN, BadRow, ExportFile, Row

BAD_ROW = "bad_row"  # the summary's outcome for a row that makes no sign-up


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
    return export.with_name(f"{export.stem}.failed{export.suffix or '.csv'}")


@dataclass(frozen=True)
class Written:
    path: Path | None = None  # None: no row to fix
    sha256: str | None = None


def write_failed_rows(
    export: ExportFile, rows: list[tuple[Row | BadRow, str]], path: Path, *, last_written: str | None
) -> Written:
    """The rows (with their reason) in the export's format at `path`; with none, our old file there is removed.

    A file at `path` whose content is not what the last run wrote (`last_written`, its sha256) holds the user's
    edits: it is kept, and the rows go to `<stem>.failed-2<ext>` (or the first number free or last written).
    """

    def free(candidate: Path) -> bool:
        return not candidate.exists() or _sha256(candidate.read_bytes()) == last_written

    if not rows:
        if path.exists() and free(path):
            path.unlink()
        return Written()
    if not free(path):
        path = next(c for n in itertools.count(2) if free(c := path.with_name(f"{path.stem}-{n}{path.suffix}")))
    if export.format == "jsonl":
        text = "".join(row.line + "\n" for row, _ in rows)
    else:
        out = io.StringIO()
        header = [name for name in export.header if name != ERROR_COLUMN]
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([*header, ERROR_COLUMN])
        for row, reason in rows:
            writer.writerow([*(row.cells.get(name, "") for name in header), reason])
        text = out.getvalue()
    write_atomically(path, text)
    return Written(path, _sha256(text.encode()))


def last_failed_sha256(summary_path: Path) -> str | None:
    """The sha256 of the failed-rows file the last run wrote, from its summary."""
    try:
        value = json.loads(summary_path.read_text()).get("failed_file_sha256")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def write_summary(summary: Summary, path: Path, failed: Written) -> None:
    data = {**summary.to_json(failed.path), "failed_file_sha256": failed.sha256}
    write_atomically(path, json.dumps(data, indent=2) + "\n")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
