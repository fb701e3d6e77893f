"""The bulk entry point: plan, import, verify, fall back (docs/architecture.md §11)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property, partial
from typing import Any, Protocol, TypeVar

from signup_relay.bulk.activity import MAX_BYTES, MAX_ROWS, Finished, chunks, start_import, wait_for
from signup_relay.bulk.plan import Person, Plan, plan_import
from signup_relay.bulk.results import BulkPath, BulkResult, BulkRun
from signup_relay.bulk.rows import CONSENT_FIELD_LABEL
from signup_relay.bulk.state import opted_out_or_deleted
from signup_relay.bulk.verify import mismatch, outcome_of, read_back
from signup_relay.clock import parse_datetime, utc_now
from signup_relay.constant_contact.transport import CallMeter
from signup_relay.errors import QuotaExceededError, RelayError
from signup_relay.models import Outcome, Signup, UpsertResult
from signup_relay.upsert.policy import ContactState, UpsertNames

PerContact = Callable[[Signup], UpsertResult]
T = TypeVar("T")
U = TypeVar("U")
TAGGING_BATCH = 500  # contacts_taggings_add takes up to 500 contact ids


class BulkClient(Protocol):
    """The slice of `ConstantContactClient` the bulk path uses."""

    def meter(self) -> AbstractContextManager[CallMeter]: ...

    def iter_contacts(self, params: Mapping[str, str | int]) -> Iterator[dict[str, Any]]: ...

    def import_contacts_json(
        self, import_data: Sequence[Mapping[str, Any]], list_ids: Sequence[str]
    ) -> dict[str, Any]: ...

    def get_activity(self, activity_id: str) -> dict[str, Any]: ...

    def add_taggings(self, contact_ids: Sequence[str], tag_ids: Sequence[str]) -> dict[str, Any]: ...


@dataclass(frozen=True)
class BulkLimits:
    """How long to wait for an import, how much of the account to scan, how big an import may be."""

    poll_timeout_seconds: float = 600.0
    state_scan_max_pages: int = 40  # 20,000 deleted or unsubscribed contacts; more and the run goes per contact
    max_rows: int = MAX_ROWS
    max_bytes: int = MAX_BYTES


def apply_in_bulk(
    signups: Sequence[Signup],
    *,
    client: BulkClient,
    names: UpsertNames,
    per_contact: PerContact,
    clock: Callable[[], datetime] = utc_now,
    sleep: Callable[[float], None] = time.sleep,
    limits: BulkLimits = BulkLimits(),  # noqa: B008 - frozen
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
    return _Run(signups, client, names, per_contact, clock, sleep, limits).execute()


class _Run:
    def __init__(
        self,
        signups: Sequence[Signup],
        client: BulkClient,
        names: UpsertNames,
        per_contact: PerContact,
        clock: Callable[[], datetime],
        sleep: Callable[[float], None],
        limits: BulkLimits,
    ) -> None:
        self.signups = signups
        self.client = client
        self.names = names
        self.per_contact_fn = per_contact
        self.clock = clock
        self.sleep = sleep
        self.limits = limits
        self.results: list[BulkResult | None] = [None] * len(signups)
        self.calls = 0
        self.notes: list[str] = []
        self.activity_ids: list[str] = []
        self._depth = 0

    def execute(self) -> BulkRun:
        quota = False
        try:
            self._run()
        except QuotaExceededError:
            quota = True
        stopped = BulkResult(Outcome.DEFERRED, BulkPath.STOPPED, reason="the daily quota is spent; left queued")
        return BulkRun(
            results=tuple(r if r is not None else stopped for r in self.results),
            activity_ids=tuple(self.activity_ids),
            calls=self.calls,
            quota_exceeded=quota,
            notes=tuple(self.notes),
        )

    def _run(self) -> None:
        everyone = Plan(persons=[], per_contact=dict.fromkeys(range(len(self.signups)), "planning failed"))
        plan = self._try(
            lambda: plan_import(self.signups, names=self.names, consent_field=lambda: self._evidence_field),
            partial(self._instead, "planning", [], everyone),
        )
        self._fall_back(plan.per_contact)
        persons = self._scan(plan.persons)
        activities = self._import(persons)
        self._verify(activities)

    # --- phases ---

    def _scan(self, persons: list[Person]) -> list[Person]:
        if not persons:
            return []
        emails = {p.email for p in persons}
        states = self._try(
            lambda: opted_out_or_deleted(self.client, emails, max_pages=self.limits.state_scan_max_pages),
            partial(self._instead, "state scan", persons, None),
        )
        if states is None:
            return []
        kept: list[Person] = []
        for person in persons:
            person.prior = states.get(person.email, ContactState.ACTIVE)
            if person.prior is ContactState.DELETED_UNSUBSCRIBED:
                self._fall_back_persons([person])  # no write without consent: the policy decides, with no PUT
            else:
                kept.append(person)
        return kept

    def _import(self, persons: list[Person]) -> list[tuple[Finished, list[Person]]]:
        by_lists: dict[tuple[str, ...], list[Person]] = {}
        for person in persons:
            by_lists.setdefault(person.list_ids, []).append(person)
        sent: list[tuple[Finished, list[Person]]] = []
        for list_ids, group in by_lists.items():
            rows = [p.row for p in group]
            for indices in chunks(rows, max_rows=self.limits.max_rows, max_bytes=self.limits.max_bytes):
                members = [group[i] for i in indices]
                activity = self._try(
                    partial(start_import, self.client, [p.row for p in members], list_ids),
                    partial(self._instead, "import", members, None),
                )
                if activity is None:
                    continue
                self.activity_ids.append(activity.activity_id)
                sent.append((activity, members))
        return sent

    def _verify(self, activities: list[tuple[Finished, list[Person]]]) -> None:
        if not activities:
            return
        finished: list[tuple[Finished, list[Person]]] = []
        timeout = self.limits.poll_timeout_seconds
        for activity, members in activities:
            done = self._try(
                partial(wait_for, self.client, activity, clock=self.clock, sleep=self.sleep, timeout_seconds=timeout),
                partial(self._instead, f"activity {activity.activity_id}: polling", [], activity),
            )
            if done.state != "completed" or done.errors:
                self.notes.append(
                    f"activity {done.activity_id}: {done.state}, {dict(done.status)}, "
                    f"{len(done.errors)} activity_errors"
                )
            finished.append((done, members))
        starts = [parse_datetime(a.created_at) for a, _ in finished]
        known = [s for s in starts if s is not None]
        imported_at = min(known) if known else self.clock() - timedelta(minutes=5)
        since = (imported_at - timedelta(seconds=1)).astimezone(UTC).isoformat(timespec="milliseconds")
        everyone = [p for _, members in finished for p in members]
        stored = self._try(
            lambda: read_back(self.client, {p.email for p in everyone}, since.replace("+00:00", "Z")),
            partial(self._instead, "read-back", everyone, None),
        )
        if stored is None:
            return
        verified: list[tuple[Person, str, dict[str, Any]]] = []
        failed: list[Person] = []
        for activity, members in finished:
            for person in members:
                contact = stored.get(person.email)
                if contact is None or mismatch(person, contact) is not None:
                    failed.append(person)
                else:
                    verified.append((person, activity.activity_id, contact))
        tag_failed = self._add_tags(verified)
        for person, activity_id, contact in verified:
            if person.email in tag_failed:
                failed.append(person)
                continue
            outcome, reason = outcome_of(person, contact, imported_at)
            contact_id = str(contact.get("contact_id") or "") or None
            # As applied one by one: the first sign-up meets the prior state, the later ones the contact it left.
            later = outcome if outcome is Outcome.KEPT_UNSUBSCRIBED else Outcome.UPDATED
            last = person.indices[-1]
            for position, index in enumerate(person.indices):
                label = outcome if position == 0 else later
                if index == last:
                    self.results[index] = BulkResult(label, BulkPath.IMPORTED, contact_id, reason, activity_id)
                else:
                    merged = "merged with a later sign-up of the same person into one import row"
                    self.results[index] = BulkResult(label, BulkPath.MERGED, contact_id, merged, activity_id)
        if failed:
            self.notes.append(f"{len(failed)} rows not found as sent after the import: per contact")
        self._fall_back_persons(failed)

    def _add_tags(self, verified: list[tuple[Person, str, dict[str, Any]]]) -> set[str]:
        """contacts_taggings_add for the tags the import cannot carry; the addresses whose tagging failed."""
        by_tags: dict[tuple[str, ...], list[tuple[str, str]]] = {}
        for person, _, contact in verified:
            missing = tuple(t for t in person.tag_ids if t not in set(contact.get("taggings") or ()))
            if missing:
                by_tags.setdefault(missing, []).append((person.email, str(contact.get("contact_id"))))
        failed: set[str] = set()
        for tag_ids, members in by_tags.items():
            for start in range(0, len(members), TAGGING_BATCH):
                batch = members[start : start + TAGGING_BATCH]
                tagged = self._try(
                    partial(self.client.add_taggings, [c for _, c in batch], tag_ids),
                    partial(self._instead, "tagging", [], None),  # the caller sends them per contact
                )
                if tagged is None:
                    failed |= {email for email, _ in batch}
        return failed

    # --- per contact ---

    def _fall_back_persons(self, persons: Iterable[Person]) -> None:
        self._fall_back(sorted(i for p in persons for i in p.indices))

    def _fall_back(self, indices: Iterable[int]) -> None:
        for index in indices:
            answer = self.per_contact_fn(self.signups[index])
            self.results[index] = BulkResult(
                answer.outcome, BulkPath.PER_CONTACT, contact_id=answer.contact_id, reason=answer.reason
            )

    # --- names ---

    @cached_property
    def _evidence_field(self) -> tuple[str, str] | None:
        """The evidence field's (name, id), created when missing; None when it cannot be had. Looked up once."""

        def lookup() -> tuple[str, str] | None:
            found = self.names.resolve_custom_field_ids([CONSENT_FIELD_LABEL], create_missing=True)
            field_id = found.ids.get(CONSENT_FIELD_LABEL)
            name = self.names.custom_field_name(field_id) if field_id else None
            return (name, field_id) if name and field_id else None

        return self._try(lookup, partial(self._instead, "consent evidence field lookup", [], None))

    # --- calls ---

    def _try(self, call: Callable[[], T], instead: Callable[[RelayError], U]) -> T | U:
        """`call`, metered; when it fails short of the quota, `instead(error)`. A quota error stops the run."""
        try:
            return self._metered(call)
        except QuotaExceededError:
            raise
        except RelayError as error:
            return instead(error)

    def _instead(self, what: str, persons: Sequence[Person], answer: U, error: RelayError) -> U:
        """After `what` failed: note it, apply `persons` per contact, and carry on with `answer`."""
        sent = f": {len(persons)} rows per contact" if persons else ""
        self.notes.append(f"{what} failed ({error.error_class}){sent}")
        self._fall_back_persons(persons)
        return answer

    def _metered(self, call: Callable[[], T]) -> T:
        """Run `call`, counting its Constant Contact calls once (phases nest: only the outermost adds)."""
        if self._depth:
            return call()
        self._depth += 1
        try:
            with self.client.meter() as meter:
                try:
                    return call()
                finally:
                    self.calls += meter.calls
        finally:
            self._depth -= 1
