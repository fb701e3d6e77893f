"""How a batch of sign-ups reaches Constant Contact: the bulk core or the per-contact path, behind one seam.

An `Applier` takes the sign-ups of a batch (oldest first) and answers one `Applied` per sign-up. `Via.STOPPED` means
not applied and the run must stop (the daily quota is spent, or Constant Contact is failing): a re-run resumes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from typing import Literal, Protocol

from signup_relay.bulk import BulkPath, apply_in_bulk
from signup_relay.bulk.plan import rule_out
from signup_relay.constant_contact.client import ConstantContactClient
from signup_relay.errors import AuthError, PermanentError, QuotaExceededError, RelayError, TransientError
from signup_relay.models import Outcome, Signup, UpsertResult
from signup_relay.observability import mask_emails_in
from signup_relay.upsert.policy import UpsertNames, upsert_contact

Mode = Literal["bulk", "per-contact"]
MODES: tuple[Mode, ...] = ("bulk", "per-contact")
QUOTA_NOTE = "the daily quota is spent (it resets at 00:00 UTC): run the same command again after that"
INTERRUPTED = "interrupted: run the same command again to resume"


class Via(StrEnum):
    IMPORTED = "imported"  # carried by a contacts_json_import and verified afterwards
    PER_CONTACT = "per_contact"
    STOPPED = "stopped"  # not applied; the run stops


@dataclass(frozen=True)
class Applied:
    outcome: Outcome
    via: Via
    reason: str | None = None


class Applier(Protocol):
    def __call__(self, signups: Sequence[Signup]) -> list[Applied]: ...


def guarded(upsert: Callable[[Signup], UpsertResult]) -> Callable[[Signup], UpsertResult]:
    """The per-contact path as the run needs it: a permanent error is REJECTED, a transient one that outlasted the
    client's own retries is FAILED (both with their reason, for the failed-rows file); the quota error and a refused
    token propagate (every later row would meet them too)."""

    def apply(signup: Signup) -> UpsertResult:
        try:
            return upsert(signup)
        except (QuotaExceededError, AuthError):
            raise
        except PermanentError as error:
            return UpsertResult(outcome=Outcome.REJECTED, reason=_reason(error))
        except TransientError as error:
            return UpsertResult(outcome=Outcome.FAILED, reason=_reason(error))

    return apply


def _reason(error: RelayError) -> str:
    return mask_emails_in(f"{error.error_class}: {error.message}")


def per_contact_applier(client: ConstantContactClient, names: UpsertNames) -> Applier:
    """Each sign-up through the per-contact policy (`upsert_contact`), in order; the first quota error stops, and so
    does Ctrl-C, after answering for the sign-ups already applied (so the checkpoint records them)."""
    upsert = guarded(partial(upsert_contact, client=client, names=names))

    def apply(signups: Sequence[Signup]) -> list[Applied]:
        applied: list[Applied] = []
        stopped = Applied(Outcome.DEFERRED, Via.STOPPED, QUOTA_NOTE)
        for signup in signups:
            try:
                result = upsert(signup)
            except QuotaExceededError:
                break
            except AuthError as error:
                stopped = Applied(Outcome.FAILED, Via.STOPPED, _reason(error))
                break
            except KeyboardInterrupt:  # the sign-up in flight may or may not have landed: it is applied again
                stopped = Applied(Outcome.DEFERRED, Via.STOPPED, INTERRUPTED)
                break
            applied.append(Applied(result.outcome, Via.PER_CONTACT, result.reason))
        return applied + [stopped] * (len(signups) - len(applied))

    return apply


def bulk_applier(
    client: ConstantContactClient, names: UpsertNames, *, sleep: Callable[[float], None] = time.sleep
) -> Applier:
    """The bulk core (`apply_in_bulk`): imports what the import can carry, the rest (explicit consent, ...) and
    every row the verification does not find as sent go per contact."""
    per_contact = guarded(partial(upsert_contact, client=client, names=names))

    def apply(signups: Sequence[Signup]) -> list[Applied]:
        try:
            run = apply_in_bulk(signups, client=client, names=names, per_contact=per_contact, sleep=sleep)
        # An import or read-back call failed for good: which rows landed is not known, so none is recorded and a
        # re-run applies the batch again (the upsert is idempotent).
        except RelayError as error:
            reason = f"{_reason(error)}; run the same command again to resume"
            return [Applied(Outcome.FAILED, Via.STOPPED, reason)] * len(signups)
        return [_applied(result.outcome, result.path, result.reason) for result in run.results]

    return apply


def _applied(outcome: Outcome, path: BulkPath, reason: str | None) -> Applied:
    if path is BulkPath.STOPPED:
        return Applied(outcome, Via.STOPPED, QUOTA_NOTE)
    if path is BulkPath.PER_CONTACT:
        return Applied(outcome, Via.PER_CONTACT, reason)
    return Applied(outcome, Via.IMPORTED, reason)  # imported, or merged into a later row of the same person


def planned_path(signup: Signup, mode: Mode) -> str:
    """What a dry run says of one sign-up: `import`, or `per contact` with the reason the import cannot carry it
    (before the contact's state is known: a deleted and unsubscribed one, or a row the verification misses, also
    goes per contact)."""
    if mode == "per-contact":
        return "per contact"
    why = rule_out(signup)
    return "import" if why is None else f"per contact: {why}"


def planned_calls(paths: Sequence[str], list_sets: int, mode: Mode, batch_size: int) -> list[str]:
    """The calls a run would make, as far as they are known without asking Constant Contact."""
    per_contact = sum(path != "import" for path in paths)
    imported = len(paths) - per_contact
    lines = []
    if per_contact:
        lines.append(
            f"{per_contact} sign-up(s) per contact: GET /contacts?email=... then one write each (POST /contacts, "
            f"PUT /contacts/{{id}} or POST /contacts/sign_up_form): about {2 * per_contact} calls, plus one read "
            "per list/tag/custom field name (cached for the run)"
        )
    if imported:
        batches = -(-imported // batch_size)
        lines.append(
            f"{imported} sign-up(s) imported: POST /activities/contacts_json_import once per list set per batch "
            f"(at least {max(batches, list_sets)} import(s): {list_sets} list set(s), {batches} batch(es) of up to "
            f"{batch_size}), GET /activities/{{id}} until done, GET /contacts?status=all pages to read the state "
            "before and to verify after; rows the verification does not find as sent go per contact"
        )
    return lines or ["no calls: no sign-up to apply"]
