"""What a bulk run returns: one `BulkResult` per sign-up, in the order given, inside a `BulkRun`."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from signup_relay.models import Outcome


class BulkPath(StrEnum):
    """How a sign-up was (or was not) applied by a bulk run."""

    IMPORTED = "imported"  # sent in a contacts_json_import and verified in Constant Contact afterwards
    MERGED = "merged"  # an earlier sign-up of a person whose later sign-up in this run was imported with it
    PER_CONTACT = "per_contact"  # handed to the per-contact callable; the outcome is its answer
    STOPPED = "stopped"  # not applied: the daily quota ran out (outcome DEFERRED); leave it queued


@dataclass(frozen=True)
class BulkResult:
    """One sign-up's result. `outcome` is truthful (created / updated / revived / kept_unsubscribed from the
    contact's state before and after the import), or the per-contact callable's own answer."""

    outcome: Outcome
    path: BulkPath
    contact_id: str | None = None
    reason: str | None = None
    activity_id: str | None = None  # the import that applied it (IMPORTED, MERGED)


@dataclass(frozen=True)
class BulkRun:
    """`results[i]` belongs to `signups[i]`; `calls` counts the bulk calls only (not the per-contact ones)."""

    results: tuple[BulkResult, ...]
    activity_ids: tuple[str, ...] = ()
    calls: int = 0
    quota_exceeded: bool = False
    notes: tuple[str, ...] = field(default=())  # activity_errors and other run-level remarks, for the log
