"""The backfill loop: read, skip what the checkpoint has, map, apply in batches, record, report.

Rows are applied in file order (so a person's last submission wins), in batches of `batch_size`; the checkpoint is
written after each batch. Ctrl-C per contact records the rows applied so far; a crash, or Ctrl-C during an import,
re-applies at most the batch in flight (the same data: the contacts end the same). A dry run maps every row,
prints it masked with the path it would take, and makes no call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from signup_relay.models import Outcome, Signup
from signup_relay.observability import mask_email, mask_emails_in
from signup_relay.ops.backfill.apply import Applier, Mode, Via, planned_calls, planned_path
from signup_relay.ops.backfill.checkpoint import Checkpoint, Done
from signup_relay.ops.backfill.mapping import RowError, RowMapper
from signup_relay.ops.backfill.reading import BadRow, ExportFile, Row
from signup_relay.ops.backfill.report import BAD_ROW, Failure, Summary

NOT_APPLIED = "not_applied"  # mapped, but the run stopped before it
TO_FIX = (Outcome.REJECTED, Outcome.FAILED)
NOT_RECORDED = (Outcome.FAILED, Outcome.DEFERRED)  # transient: a re-run tries them again


@dataclass
class Backfill:
    export: ExportFile
    mapper: RowMapper
    checkpoint: Checkpoint
    apply: Applier | None  # None: dry run
    mode: Mode
    batch_size: int
    out: TextIO
    progress: Callable[[int], object] = lambda rows: None
    summary: Summary = field(default_factory=Summary)
    to_fix: list[tuple[Row | BadRow, str]] = field(default_factory=list)
    _batch: list[tuple[Row, Signup]] = field(default_factory=list)
    _dry_paths: list[str] = field(default_factory=list)
    _dry_list_sets: set[tuple[str, ...]] = field(default_factory=set)

    def run(self) -> Summary:
        self.summary.dry_run = self.apply is None
        for item in self.export.rows():
            self.summary.rows += 1
            self._row(item)
            if len(self._batch) >= self.batch_size:
                self._flush()
        self._flush()
        if self.apply is None:
            print("calls it would make:", file=self.out)
            lines = planned_calls(self._dry_paths, len(self._dry_list_sets), self.mode, self.batch_size)
            print("\n".join(f"  {line}" for line in lines), file=self.out)
        return self.summary

    def _row(self, item: Row | BadRow) -> None:
        if isinstance(item, BadRow):
            self._needs_fix(item, BAD_ROW, item.reason)
            return
        done = self.checkpoint.done.get(item.number)
        if done is not None:
            self.summary.already_applied += 1
            self.summary.counts[done.outcome] += 1
            if done.reason is not None:
                self._needs_fix(item, done.outcome, done.reason, counted=True)
            self.progress(1)
            return
        try:
            signup = self.mapper.signup(item)
        except RowError as error:
            self._needs_fix(item, BAD_ROW, error.reason)
            return
        if self.summary.stopped:
            self.summary.counts[NOT_APPLIED] += 1
            self.progress(1)
        elif self.apply is None:
            self._describe(item, signup)
        else:
            self._batch.append((item, signup))

    def _needs_fix(self, item: Row | BadRow, outcome: str, reason: str, *, counted: bool = False) -> None:
        if not counted:
            self.summary.counts[outcome] += 1
        self.summary.failures.append(Failure(item.number, outcome, reason))
        self.to_fix.append((item, reason))
        if not counted:
            self.progress(1)

    def _describe(self, row: Row, signup: Signup) -> None:
        path = planned_path(signup, self.mode)
        self._dry_paths.append(path)
        if path == "import":
            self._dry_list_sets.add(tuple(sorted(signup.lists)))
        self.summary.counts["would_" + ("import" if path == "import" else "apply_per_contact")] += 1
        print(f"row {row.number}: {describe_signup(signup)} -> {path}", file=self.out)
        self.progress(1)

    def _flush(self) -> None:
        if not self._batch or self.apply is None:
            return
        batch, self._batch = self._batch, []
        results = self.apply([signup for _, signup in batch])
        done: dict[int, Done] = {}
        for (row, _), applied in zip(batch, results, strict=True):
            if applied.via is Via.STOPPED:
                self.summary.stopped = applied.reason
                self.summary.counts[NOT_APPLIED] += 1
                continue
            self.summary.counts[applied.outcome] += 1
            reason = mask_emails_in(applied.reason or applied.outcome.value)
            if applied.outcome in TO_FIX:
                self.summary.failures.append(Failure(row.number, applied.outcome, reason))
                self.to_fix.append((row, reason))
            if applied.outcome not in NOT_RECORDED:
                done[row.number] = Done(applied.outcome, reason if applied.outcome in TO_FIX else None)
        self.checkpoint.record(done)
        self.summary.applied_now += len(done)
        self.progress(len(batch))


def describe_signup(signup: Signup) -> str:
    """One masked line: the address masked, which fields are set (never their values), lists, consent, time."""
    fields = [
        name
        for name in ("first_name", "last_name", "job_title", "company_name", "phone", "address", "birthday_month")
        if getattr(signup, name) is not None
    ]
    parts = [
        mask_email(signup.email),
        f"consent={signup.consent}",
        f"submitted_at={signup.submitted_at.isoformat() if signup.submitted_at else '-'}",
        f"lists={','.join(signup.lists) or '-'}",
    ]
    if fields:
        parts.append(f"fields={','.join(fields)}")
    if signup.custom_fields:
        parts.append(f"custom_fields={','.join(sorted(signup.custom_fields))}")
    if signup.tags:
        parts.append(f"tags={','.join(signup.tags)}")
    return "  ".join(parts)
