"""The bulk entry point: plan, import, verify, fall back (docs/architecture.md §11)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

from signup_relay.bulk.results import BulkPath, BulkResult, BulkRun
from signup_relay.clock import utc_now
from signup_relay.constant_contact.client import CallMeter
from signup_relay.errors import QuotaExceededError
from signup_relay.models import Outcome, Signup, UpsertResult
from signup_relay.upsert.policy import UpsertNames

PerContact = Callable[[Signup], UpsertResult]


class BulkClient(Protocol):
    """The slice of `ConstantContactClient` the bulk path uses."""

    def meter(self) -> AbstractContextManager[CallMeter]: ...

    def iter_contacts(self, params: Mapping[str, str | int]) -> Iterator[dict[str, Any]]: ...

    def list_custom_fields(self) -> list[dict[str, Any]]: ...

    def import_contacts_json(
        self, import_data: Sequence[Mapping[str, Any]], list_ids: Sequence[str]
    ) -> dict[str, Any]: ...

    def get_activity(self, activity_id: str) -> dict[str, Any]: ...

    def add_taggings(self, contact_ids: Sequence[str], tag_ids: Sequence[str]) -> dict[str, Any]: ...


def apply_in_bulk(
    signups: Sequence[Signup],
    *,
    client: BulkClient,
    names: UpsertNames,
    per_contact: PerContact,
    clock: Callable[[], datetime] = utc_now,
    sleep: Callable[[float], None] = time.sleep,
) -> BulkRun:
    """Apply `signups` (one Constant Contact account, oldest first) with as few calls as the promises allow.

    Every sign-up the import cannot carry as the per-contact policy would (explicit consent, consent none without
    `allow_create_without_consent`, an address over 50 characters, fields to clear, a resubscribe email, a
    deleted-and-unsubscribed contact, names that do not resolve, ...) and every row the verification does not
    find as sent is handed to `per_contact`, in each person's order; the rest are grouped by list set, sent with
    one `contacts_json_import` per group, polled until done, then read back with
    `GET /contacts?updated_after=...&status=all` and given a truthful outcome. Several sign-ups of one person that
    can all be imported become one row (the latest non-empty value of each field wins; lists and tags add up).

    Returns one `BulkResult` per sign-up, `results[i]` for `signups[i]`. `per_contact` is called at most once per
    sign-up and its exceptions propagate, except `QuotaExceededError`: from the first `quota_exceeded` (bulk call
    or per-contact) no further call is made, every sign-up not yet applied gets `BulkPath.STOPPED` / `DEFERRED`,
    and `BulkRun.quota_exceeded` is set. `client` is a `ConstantContactClient` (or the same methods), `names` a
    `NameDirectory` for the same account; `clock` and `sleep` pace the activity polling.
    """
    results: list[BulkResult] = []
    quota_exceeded = False
    for signup in signups:
        if quota_exceeded:
            results.append(_stopped())
            continue
        try:
            answer = per_contact(signup)
        except QuotaExceededError:
            quota_exceeded = True
            results.append(_stopped())
            continue
        results.append(
            BulkResult(answer.outcome, BulkPath.PER_CONTACT, contact_id=answer.contact_id, reason=answer.reason)
        )
    return BulkRun(results=tuple(results), quota_exceeded=quota_exceeded)


def _stopped() -> BulkResult:
    return BulkResult(Outcome.DEFERRED, BulkPath.STOPPED, reason="the daily quota is spent; left queued")
