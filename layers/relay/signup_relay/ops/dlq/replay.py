"""Replay: re-send dead-lettered records after their cause is fixed (the failure flow: docs/architecture.md).

- receive-stage records are re-parsed with the CURRENT routes file (no signature check: they were authenticated at
  receipt) as of when they arrived, and queued if they now make a Signup; otherwise they stay in the DLQ with the new
  reason (and their arrival time).
- upsert-stage records and redriven sign-ups go back to the signup queue with the person's data as stored but the
  upsert options and account of their route in the CURRENT routes file (the routes file is the fix, e.g.
  `create_missing_lists: true`; a route that no longer exists keeps the stored ones), in their contact's message
  group, with a NEW deduplication id (a replay within the 5-minute FIFO window would be dropped otherwise), and
  their original receipt and submission times: the upsert policy compares the latter with an opt-out.
A record leaves the DLQ only after its re-send (or its re-recording with a new reason) succeeded.
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, get_args

from msgspec.structs import replace

from signup_relay.aws.dead_letter_reader import DeadLetter, DeadLetterReader
from signup_relay.clock import utc_now
from signup_relay.emails import contact_key
from signup_relay.errors import ReceiveError, RelayError, UnknownRouteError
from signup_relay.models import FailureRecord, QueuedSignup, RawRequest, Signup, to_data, to_json
from signup_relay.ops.dlq.entries import Entry, decode_entry, mask_text
from signup_relay.ops.dlq.selection import Selection, drain
from signup_relay.receive.intake import submission_id
from signup_relay.receive.redaction import REDACTED

if TYPE_CHECKING:
    from signup_relay.aws.dead_letters import DeadLetterQueue
    from signup_relay.aws.queue import SignupQueue
    from signup_relay.routes import Routes

Action = Literal["replayed", "would_replay", "still_failing", "would_still_fail", "not_replayable", "error"]
ACTIONS: tuple[Action, ...] = get_args(Action)


@dataclass(frozen=True)
class ReplayResult:
    entry: Entry
    action: Action
    detail: str = ""
    queued_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {**self.entry.to_json(), "action": self.action, "detail": mask_text(self.detail)}


@dataclass(frozen=True)
class ReplayReport:
    results: tuple[ReplayResult, ...]
    dry_run: bool
    not_read: int = 0

    @property
    def counts(self) -> dict[str, int]:
        """Result count by action, in the order of ACTIONS."""
        counts = Counter(str(result.action) for result in self.results)
        return {action: counts[action] for action in ACTIONS if counts[action]}

    @property
    def left_in_dlq(self) -> int:
        """Selected records that are still (or, in a dry run, would still be) in the DLQ."""
        return sum(result.action not in ("replayed", "would_replay") for result in self.results)

    def to_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "results": [result.to_json() for result in self.results],
            "counts": self.counts,
            "not_read": self.not_read,
        }


def reparse_delivery(record: FailureRecord, routes: Routes) -> Signup:
    """The Signup a kept receive-stage delivery makes with `routes` now; raises ReceiveError like receive does.

    No signature check: the delivery was authenticated when it arrived, and its secret headers are gone.
    """
    from signup_relay.receive.mapping import map_submission
    from signup_relay.receive.sources import get_source

    route = routes.get(record.route)
    headers = {name.lower(): value for name, value in record.headers.items()}
    if record.content_type and "content-type" not in headers:
        headers["content-type"] = record.content_type
    request = RawRequest(
        path=f"/hooks/{record.route}", headers=headers, body=base64.b64decode(record.body_base64 or "")
    )
    submission = get_source(route.source).parse(request)
    # Passing the redaction marker as the "secret" drops answers that held the secret, as receive did. Mapped as of
    # when it arrived, so a sign-up without its own timestamp keeps that time, not the replay's.
    return map_submission(submission, route, now=received_at(record), secret=REDACTED)


def received_at(record: FailureRecord) -> datetime:
    """When receive accepted a kept delivery; records written before `received_at` was kept have `failed_at`."""
    return record.received_at or record.failed_at


@dataclass
class _Replayer:
    reader: DeadLetterReader
    queue: SignupQueue
    dlq: DeadLetterQueue
    load_routes: Callable[[], Routes]
    dry_run: bool
    clock: Callable[[], datetime]
    results: list[ReplayResult] = field(default_factory=list)
    written: set[str] = field(default_factory=set)  # records this run put back in the DLQ (not replayed again)
    _routes: Routes | None = None

    def routes(self) -> Routes:
        if self._routes is None:
            self._routes = self.load_routes()
        return self._routes

    def replay(self, entry: Entry) -> ReplayResult:
        if entry.kind == "receive" and entry.record is not None:
            return self._replay_delivery(entry, entry.record)
        if entry.queued is None:
            return ReplayResult(entry, "not_replayable", f"{entry.error_class}: nothing to re-send (purge it)")
        queued, options_note = self._with_current_route(entry.queued)
        return self._resend(entry, queued, note=options_note)

    def _with_current_route(self, queued: QueuedSignup) -> tuple[QueuedSignup, str]:
        """The sign-up with its route's current options and account (the person's data as stored), and a note
        saying where the options came from; the stored ones when the route no longer exists."""
        signup = queued.signup
        try:
            route = self.routes().get(signup.route)
        except UnknownRouteError:
            return queued, f"stored options kept: route {signup.route!r} no longer exists"
        changed = [name for name, value in to_data(route.options).items() if getattr(signup.options, name) != value]
        changed += ["account"] if route.account != signup.account else []
        current = replace(signup, options=route.options, account=route.account)
        note = f"options from current route {route.name!r}" + (f" (changed: {', '.join(changed)})" if changed else "")
        return replace(queued, signup=current), note

    def _resend(self, entry: Entry, queued: QueuedSignup, *, note: str = "") -> ReplayResult:
        detail = f"{note}; queued as {queued.id}" if note else f"queued as {queued.id}"
        if self.dry_run:
            return ReplayResult(entry, "would_replay", detail, queued.id)
        # A new dedupe id, stable per DLQ message: a repeat of this replay within 5 minutes is dropped by SQS.
        self.queue.send(to_json(queued), group_id=contact_key(queued.signup.email), dedupe_id=self._dedupe(entry))
        return ReplayResult(entry, "replayed", self._delete(entry, detail), queued.id)

    def _replay_delivery(self, entry: Entry, record: FailureRecord) -> ReplayResult:
        try:
            signup = reparse_delivery(record, self.routes())
        except ReceiveError as error:
            return self._still_failing(entry, record, error)
        body = base64.b64decode(record.body_base64 or "")
        queued_id = (
            submission_id(signup.delivery_id, body)
            if signup.delivery_id
            else record.queued_id or submission_id(None, body)
        )
        queued = QueuedSignup(id=queued_id, received_at=received_at(record), signup=signup)
        return self._resend(Entry(entry.letter, entry.kind, record, queued), queued)

    def _still_failing(self, entry: Entry, record: FailureRecord, error: ReceiveError) -> ReplayResult:
        field_errors = dict(getattr(error, "field_errors", {}))
        detail = f"{error.error_class}: {error.message}" + "".join(f"; {k}: {v}" for k, v in field_errors.items())
        if self.dry_run:
            return ReplayResult(entry, "would_still_fail", detail)
        renewed = replace(
            record,
            error_class=error.error_class,
            message=error.message,
            field_errors=field_errors,
            attempts=record.attempts + 1,
            failed_at=self.clock(),
            received_at=received_at(record),  # the arrival time outlives the new failure time
        )
        self.written.add(self.dlq.send(renewed, dedupe_id=self._dedupe(entry)))
        return ReplayResult(entry, "still_failing", self._delete(entry, detail + " (kept with this reason)"))

    def _dedupe(self, entry: Entry) -> str:
        return f"replay-{entry.id}"

    def _delete(self, entry: Entry, detail: str) -> str:
        if self.reader.delete(entry.letter):
            return detail
        return (
            f"{detail}; the old DLQ record could not be deleted and will be listed again "
            "(a replay of it within 5 minutes is dropped by the queue)"
        )

    def handle(self, letter: DeadLetter, selection: Selection) -> bool:
        if letter.message_id in self.written:
            return False
        entry = decode_entry(letter)
        if not selection.matches(entry):
            return False
        try:
            result = self.replay(entry)
        except (RelayError, ValueError) as error:  # one bad record must not stop the others
            message = error.message if isinstance(error, RelayError) else str(error)
            result = ReplayResult(entry, "error", f"{type(error).__name__}: {message}")
        self.results.append(result)
        return result.action in ("replayed", "still_failing")


def replay_dead_letters(
    reader: DeadLetterReader,
    *,
    queue: SignupQueue,
    dlq: DeadLetterQueue,
    load_routes: Callable[[], Routes],
    selection: Selection | None = None,
    dry_run: bool = False,
    clock: Callable[[], datetime] = utc_now,
) -> ReplayReport:
    """Re-send the selected records (see the module docstring); a dry run changes nothing.

    `load_routes` is called when the first record is replayed, once if it succeeds. A ConfigError from it (an
    unreadable or invalid routes file) is that record's `error`: it stays in the DLQ.
    """
    selection = selection or Selection()
    replayer = _Replayer(reader=reader, queue=queue, dlq=dlq, load_routes=load_routes, dry_run=dry_run, clock=clock)
    not_read = drain(reader, lambda letter: replayer.handle(letter, selection))
    return ReplayReport(results=tuple(replayer.results), dry_run=dry_run, not_read=not_read)
