"""The DLQ operations tool: list dead-lettered sign-ups with their reasons, show one, replay after a fix, purge.

Domain functions take their collaborators (a DeadLetterReader, the SignupQueue and DeadLetterQueue adapters, a
routes loader, a clock); `main()` is the CLI (`python -m signup_relay.ops.dlq`, `make dlq ARGS=...`).

What the DLQ holds (design §2):
- receive-stage FailureRecords: authenticated deliveries that could not be parsed or mapped (415, 400, 422),
  with the body (secrets redacted) and headers (secrets removed). Replay re-parses them with the CURRENT routes
  file (no signature check: they were authenticated at receipt) and queues them if they now make a Signup;
  otherwise they stay in the DLQ with the new reason.
- upsert-stage FailureRecords (the queued Signup + its id) and bare QueuedSignups moved by the queue's redrive
  policy after crashes or timeouts: replay re-sends them to the signup queue with the person's data as stored but
  the upsert options and account of their route in the CURRENT routes file (the routes file is the fix, e.g.
  `create_missing_lists: true`; a route that no longer exists keeps the stored ones), in their contact's message
  group, with a NEW deduplication id (a replay within the 5-minute FIFO window would be dropped otherwise).
A record leaves the DLQ only after its re-send (or its re-recording with a new reason) succeeded.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import sys
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote

from pydantic import ValidationError as ModelValidationError

from signup_relay.aws.dead_letter_reader import DLQ_OUTPUT, QUEUE_OUTPUT, DeadLetter, DeadLetterReader
from signup_relay.emails import contact_key
from signup_relay.errors import ConfigError, ReceiveError, RelayError, UnknownRouteError
from signup_relay.models import FailureRecord, QueuedSignup, RawRequest, Signup
from signup_relay.observability import mask_email, mask_emails_in
from signup_relay.receive.intake import REDACTED, redact_mapping, submission_id

if TYPE_CHECKING:
    from signup_relay.aws.dead_letters import DeadLetterQueue
    from signup_relay.aws.queue import SignupQueue
    from signup_relay.routes import Routes

Kind = Literal["receive", "upsert", "redriven", "unreadable"]
Action = Literal["replayed", "would_replay", "still_failing", "would_still_fail", "not_replayable", "error"]

REDRIVEN_CLASS = "redriven"
REDRIVEN_MESSAGE = "moved here by the queue's redrive policy: the upsert function crashed or timed out on every try"
UNREADABLE_CLASS = "unreadable"
UNREADABLE_MESSAGE = "the message is neither a FailureRecord nor a QueuedSignup"
MIN_ID_PREFIX = 8
LOCAL_STACK_NOTE = (
    "The local stack (make dev) keeps its queues in moto inside its own process, so this CLI cannot reach them: "
    "use GET /_local/dlq and POST /_local/dlq/replay on the local stack instead."
)
_URL_ENCODED_EMAIL = re.compile(r"[A-Za-z0-9._+\-']+%40[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")


def utc_now() -> datetime:
    return datetime.now(UTC)


def mask_text(text: str) -> str:
    """Every email in `text` masked, URL-encoded ones (form bodies) included."""
    text = _URL_ENCODED_EMAIL.sub(lambda match: mask_email(unquote(match.group(0))), text)
    return mask_emails_in(text)


# --- what a DLQ message is ----------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One DLQ message, decoded. Its `id` is the DLQ message id."""

    letter: DeadLetter
    kind: Kind
    record: FailureRecord | None = None
    queued: QueuedSignup | None = None  # what a replay re-sends (upsert-stage and redriven messages)

    @property
    def id(self) -> str:
        return self.letter.message_id

    @property
    def stage(self) -> str:
        if self.record is not None:
            return self.record.stage
        return "upsert" if self.kind == "redriven" else "-"

    @property
    def route(self) -> str:
        if self.record is not None and self.record.route:
            return self.record.route
        return self.queued.signup.route if self.queued is not None else ""

    @property
    def error_class(self) -> str:
        if self.record is not None:
            return self.record.error_class
        return REDRIVEN_CLASS if self.kind == "redriven" else UNREADABLE_CLASS

    @property
    def message(self) -> str:
        if self.record is not None:
            return self.record.message
        return REDRIVEN_MESSAGE if self.kind == "redriven" else UNREADABLE_MESSAGE

    @property
    def attempts(self) -> int | None:
        return self.record.attempts if self.record is not None else None

    @property
    def failed_at(self) -> datetime | None:
        return self.record.failed_at if self.record is not None else None

    @property
    def queued_id(self) -> str | None:
        if self.record is not None and self.record.queued_id:
            return self.record.queued_id
        return self.queued.id if self.queued is not None else None

    @property
    def masked_email(self) -> str:
        signup = self.queued.signup if self.queued is not None else None
        return mask_email(signup.email) if signup is not None else ""

    def to_json(self, *, detail: bool = False) -> dict[str, Any]:
        """A JSON-ready view: emails masked, secret-looking headers redacted."""
        data: dict[str, Any] = {
            "id": self.id,
            "stage": self.stage,
            "kind": self.kind,
            "route": self.route,
            "error_class": self.error_class,
            "email": self.masked_email,
            "attempts": self.attempts,
            "failed_at": _iso(self.failed_at),
            "message": mask_text(self.message),
            "queued_id": self.queued_id,
        }
        if not detail:
            return data
        record = self.record
        data["received_at"] = _iso(self.queued.received_at) if self.queued is not None else None
        data["dlq_sent_at"] = _iso(self.letter.sent_at)
        data["field_errors"] = {k: mask_text(v) for k, v in record.field_errors.items()} if record else {}
        data["content_type"] = record.content_type if record else None
        data["headers"] = redact_mapping(record.headers) if record else {}
        data["body"] = _body_text(record.body_base64) if record and record.body_base64 else None
        data["signup"] = _masked_signup(self.queued.signup) if self.queued is not None else None
        if self.kind == "unreadable":
            data["body"] = mask_text(self.letter.body[:4000])
        return data


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _body_text(body_base64: str) -> str:
    try:
        raw = base64.b64decode(body_base64)
    except ValueError:
        return "(not base64)"
    return mask_text(raw[:4000].decode("utf-8", "replace"))


def _masked_signup(signup: Signup) -> dict[str, Any]:
    data = signup.model_dump(mode="json")
    data["email"] = mask_email(signup.email)
    masked: dict[str, Any] = json.loads(mask_text(json.dumps(data)))
    return masked


def _queued_from_text(text: str) -> QueuedSignup | None:
    try:
        return QueuedSignup.model_validate_json(text)
    except ModelValidationError:
        return None


def decode_entry(letter: DeadLetter) -> Entry:
    """Classify a DLQ message: a receive- or upsert-stage FailureRecord, a redriven QueuedSignup, or unreadable."""
    try:
        data = json.loads(letter.body)
    except ValueError:
        return Entry(letter, "unreadable")
    if isinstance(data, dict) and "stage" in data:
        try:
            record = FailureRecord.model_validate(data)
        except ModelValidationError:
            return Entry(letter, "unreadable")
        queued = None
        if record.stage == "upsert" and record.signup is not None:
            # Records written before `received_at` existed: the failure time is the closest we have.
            queued = QueuedSignup(
                id=record.queued_id or letter.message_id,
                received_at=record.received_at or record.failed_at,
                signup=record.signup,
            )
        elif record.stage == "upsert" and record.body_base64:
            # `invalid_message`: the original body, kept for a human; replayable if it is a QueuedSignup now.
            try:
                queued = _queued_from_text(base64.b64decode(record.body_base64).decode("utf-8"))
            except ValueError:
                queued = None
        return Entry(letter, record.stage, record, queued)
    queued = _queued_from_text(letter.body)
    return Entry(letter, "redriven", None, queued) if queued is not None else Entry(letter, "unreadable")


@dataclass(frozen=True)
class Selection:
    """Which records an operation touches; empty = all. An id is a DLQ message id (or a prefix of at least 8
    characters) or a queued id."""

    route: str | None = None
    error_class: str | None = None
    ids: tuple[str, ...] = ()

    def matches(self, entry: Entry) -> bool:
        if self.route is not None and entry.route != self.route:
            return False
        if self.error_class is not None and entry.error_class != self.error_class:
            return False
        return not self.ids or any(_id_matches(wanted, entry) for wanted in self.ids)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Selection:
        """From a JSON request body: {"route", "error_class", "id" (one or a list)}."""
        ids = data.get("id") or data.get("ids") or ()
        return cls(
            route=data.get("route") or None,
            error_class=data.get("error_class") or None,
            ids=(ids,) if isinstance(ids, str) else tuple(str(i) for i in ids),
        )


def _id_matches(wanted: str, entry: Entry) -> bool:
    return wanted in (entry.id, entry.queued_id) or (len(wanted) >= MIN_ID_PREFIX and entry.id.startswith(wanted))


def _drain(reader: DeadLetterReader, handle: Callable[[DeadLetter], bool]) -> int:
    """Receive until empty, giving each message once to `handle` (True = it deleted the message; else the message
    is held until the end, then released). Returns about how many records the queue holds that were not read:
    locked behind a held record of the same message group, or held by another reader."""
    held: dict[str, DeadLetter] = {}
    handled: set[str] = set()
    try:
        while batch := reader.receive():
            fresh = [letter for letter in batch if letter.message_id not in handled]
            for letter in batch:
                if letter.message_id in held:  # our visibility ran out and we got it again: keep holding it
                    held[letter.message_id] = letter
            if not fresh:
                break
            for letter in fresh:
                handled.add(letter.message_id)
                if not handle(letter):
                    held[letter.message_id] = letter
        available, in_flight = reader.counts()
    finally:
        reader.release(list(held.values()))
    return available + max(0, in_flight - len(held))


# --- list / show -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Listing:
    entries: tuple[Entry, ...]
    not_read: int = 0

    @property
    def summary(self) -> dict[str, int]:
        """Record count by error class, most frequent first (ties by name)."""
        counts = Counter(entry.error_class for entry in self.entries)
        return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))

    def to_json(self, *, detail: bool = False) -> dict[str, Any]:
        return {
            "records": [entry.to_json(detail=detail) for entry in self.entries],
            "total": len(self.entries),
            "by_error_class": self.summary,
            "not_read": self.not_read,
        }


def list_dead_letters(reader: DeadLetterReader, selection: Selection | None = None) -> Listing:
    """Every readable DLQ record (left in the DLQ, visible again when this returns)."""
    selection = selection or Selection()
    entries: list[Entry] = []

    def keep(letter: DeadLetter) -> bool:
        entry = decode_entry(letter)
        if selection.matches(entry):
            entries.append(entry)
        return False

    not_read = _drain(reader, keep)
    return Listing(entries=tuple(entries), not_read=not_read)


def find_dead_letter(reader: DeadLetterReader, wanted: str) -> Entry:
    """The one record `wanted` names; LookupError when none or several match."""
    found = list_dead_letters(reader, Selection(ids=(wanted,))).entries
    if len(found) != 1:
        raise LookupError(f"{len(found)} DLQ records match {wanted!r}" + ("" if found else " (run `list` for ids)"))
    return found[0]


# --- replay ------------------------------------------------------------------------------------


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
        """Result count by action, in the order of ACTION_WORDS."""
        counts = Counter(str(result.action) for result in self.results)
        return {action: counts[action] for action in ACTION_WORDS if counts[action]}

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
    # Passing the redaction marker as the "secret" drops answers that held the secret, as receive did.
    return map_submission(submission, route, now=record.failed_at, secret=REDACTED)


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
        changed = [name for name, value in route.options if getattr(signup.options, name) != value]
        changed += ["account"] if route.account != signup.account else []
        current = signup.model_copy(update={"options": route.options, "account": route.account})
        note = f"options from current route {route.name!r}" + (f" (changed: {', '.join(changed)})" if changed else "")
        return queued.model_copy(update={"signup": current}), note

    def _resend(self, entry: Entry, queued: QueuedSignup, *, note: str = "") -> ReplayResult:
        detail = f"{note}; queued as {queued.id}" if note else f"queued as {queued.id}"
        if self.dry_run:
            return ReplayResult(entry, "would_replay", detail, queued.id)
        # A new dedupe id, stable per DLQ message: a repeat of this replay within 5 minutes is dropped by SQS.
        self.queue.send(
            queued.model_dump_json(), group_id=contact_key(queued.signup.email), dedupe_id=self._dedupe(entry)
        )
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
        queued = QueuedSignup(id=queued_id, received_at=record.failed_at, signup=signup)
        return self._resend(Entry(entry.letter, entry.kind, record, queued), queued)

    def _still_failing(self, entry: Entry, record: FailureRecord, error: ReceiveError) -> ReplayResult:
        field_errors = dict(getattr(error, "field_errors", {}))
        detail = f"{error.error_class}: {error.message}" + "".join(f"; {k}: {v}" for k, v in field_errors.items())
        if self.dry_run:
            return ReplayResult(entry, "would_still_fail", detail)
        renewed = record.model_copy(
            update={
                "error_class": error.error_class,
                "message": error.message,
                "field_errors": field_errors,
                "attempts": record.attempts + 1,
                "failed_at": self.clock(),
            }
        )
        group = entry.letter.group_id or f"receive-{record.route}"
        self.written.add(self.dlq.send(renewed, group_id=group, dedupe_id=self._dedupe(entry)))
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
    not_read = _drain(reader, lambda letter: replayer.handle(letter, selection))
    return ReplayReport(results=tuple(replayer.results), dry_run=dry_run, not_read=not_read)


# --- purge -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PurgeReport:
    purged: tuple[Entry, ...]
    failed: tuple[Entry, ...] = ()
    not_read: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "purged": [entry.to_json() for entry in self.purged],
            "failed": [entry.to_json() for entry in self.failed],
            "not_read": self.not_read,
        }


def purge_dead_letters(reader: DeadLetterReader, selection: Selection | None = None) -> PurgeReport:
    """Delete the selected records for good."""
    selection = selection or Selection()
    purged: list[Entry] = []
    failed: list[Entry] = []

    def delete(letter: DeadLetter) -> bool:
        entry = decode_entry(letter)
        if not selection.matches(entry):
            return False
        deleted = reader.delete(letter)
        (purged if deleted else failed).append(entry)
        return deleted

    not_read = _drain(reader, delete)
    return PurgeReport(purged=tuple(purged), failed=tuple(failed), not_read=not_read)


# --- where the queues are ----------------------------------------------------------------------


def resolve_queue_urls(
    *,
    dlq_url: str | None,
    queue_url: str | None,
    stack_name: str | None,
    env_dlq_url: str,
    env_queue_url: str,
    stack_outputs: Callable[[str], Mapping[str, str]],
) -> tuple[str, str]:
    """(DLQ URL, signup queue URL): the flags, else the stack's Outputs when a stack is named, else the env."""
    if stack_name and not (dlq_url and queue_url):
        outputs = stack_outputs(stack_name)
        return dlq_url or outputs.get(DLQ_OUTPUT, ""), queue_url or outputs.get(QUEUE_OUTPUT, "")
    return dlq_url or env_dlq_url, queue_url or env_queue_url


# --- CLI ---------------------------------------------------------------------------------------

DESCRIPTION = f"""List, inspect, replay and purge dead-lettered sign-ups.

Queues: --dlq-url/--queue-url, else --stack-name (the deployed stack's Outputs {DLQ_OUTPUT} and
{QUEUE_OUTPUT}), else env DLQ_URL/QUEUE_URL. AWS credentials and region come from the usual AWS environment.
Records are read under a visibility timeout, so a concurrent reader never replays them twice.

{LOCAL_STACK_NOTE}"""

REPLAY_HELP = """Re-send the selected records, after fixing their cause. Upsert-stage records and redriven sign-ups
go back to the signup queue with the person's data as stored and the options and account of their route in the
CURRENT routes file ("options from current route"): fix the cause in the routes file (e.g. create_missing_lists:
true) or in Constant Contact (create the missing list, reconnect the account). A record whose route is no longer in
the routes file keeps the options it was received with ("stored options kept"). Receive-stage records are
re-parsed with the CURRENT routes file (no signature check) and queued when they now make a valid sign-up, else
kept in the DLQ with the new reason. A record leaves the DLQ only after its re-send succeeded."""


def _common_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    # On the subcommands too, so options work before or after the subcommand; SUPPRESS keeps the top-level value.
    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    parser.add_argument("--dlq-url", default=default(None), help="the DLQ's URL")
    parser.add_argument("--queue-url", default=default(None), help="the signup queue's URL (replay)")
    parser.add_argument("--stack-name", default=default(None), help="read the queue URLs from this stack's Outputs")
    parser.add_argument("--json", action="store_true", default=default(False), help="machine-readable output")
    parser.add_argument(
        "--visibility-timeout",
        type=int,
        default=default(120),
        help="seconds a read record stays hidden from other readers if this run dies [120]",
    )
    parser.add_argument(
        "--wait", type=int, default=default(1), help="long-poll seconds per receive (0 = short polling) [1]"
    )


def _filter_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--route", help="only records of this route")
    parser.add_argument("--error-class", help="only records with this error class")
    parser.add_argument(
        "--id", dest="ids", action="append", default=[], help="only this record (DLQ id, 8+ char prefix, or queued id)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m signup_relay.ops.dlq",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common_options(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", metavar="{list,show,replay,purge}")
    list_parser = commands.add_parser("list", help="one line per record and a count by error class (default)")
    _common_options(list_parser, suppress=True)
    _filter_options(list_parser)
    show = commands.add_parser("show", help="one record in full (emails masked, secrets redacted)")
    _common_options(show, suppress=True)
    show.add_argument("id", help="DLQ id (or an 8+ character prefix) or queued id")
    replay = commands.add_parser("replay", help="re-send records after a fix", description=REPLAY_HELP)
    _common_options(replay, suppress=True)
    _filter_options(replay)
    replay.add_argument("--dry-run", action="store_true", help="say what would happen; change nothing")
    replay.add_argument(
        "--routes-file",
        help="the current routes file: re-parses receive-stage records, gives the others their route's options and "
        "account [env ROUTES_FILE or routes.yaml]",
    )
    purge = commands.add_parser("purge", help="delete records for good (asks first unless --yes)")
    _common_options(purge, suppress=True)
    _filter_options(purge)
    purge.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    return parser


def _cell(value: object) -> str:
    return "-" if value in (None, "") else str(value)


def format_entries(entries: Sequence[Entry], *, extra: Sequence[str] | None = None) -> list[str]:
    """Aligned lines: id, stage, route, error class, masked email, attempts, failed at, then message (or `extra`)."""
    rows = [
        [
            entry.id,
            entry.stage,
            _cell(entry.route),
            entry.error_class,
            _cell(entry.masked_email),
            f"attempts={_cell(entry.attempts)}",
            _cell(_iso(entry.failed_at)),
        ]
        for entry in entries
    ]
    widths = [max((len(row[i]) for row in rows), default=0) for i in range(7)]
    tails = extra if extra is not None else [entry.message for entry in entries]
    lines = []
    for row, tail in zip(rows, tails, strict=True):
        flat = " ".join(mask_text(tail).split())
        flat = flat if len(flat) <= 160 else flat[:157] + "..."
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) + "  " + flat)
    return lines


def _not_read_note(not_read: int) -> list[str]:
    if not not_read:
        return []
    return [
        f"about {not_read} more record(s) could not be read now: they wait behind the records above in the same "
        "message group (a FIFO group is read in order), or another reader holds them. Replay or purge these "
        "first, or run again in a few minutes."
    ]


def format_listing(listing: Listing) -> str:
    lines = format_entries(listing.entries)
    if listing.entries:
        counts = ", ".join(f"{name} {count}" for name, count in listing.summary.items())
        lines.append(f"{len(listing.entries)} record(s): {counts}")
    else:
        lines.append("no records in the DLQ")
    return "\n".join(lines + _not_read_note(listing.not_read))


def format_entry(entry: Entry) -> str:
    data = entry.to_json(detail=True)
    lines = []
    for name, value in data.items():
        if value in (None, {}, ""):
            continue
        if isinstance(value, dict):
            lines.append(f"{name}:")
            lines.extend(
                f"  {key}: {json.dumps(item) if isinstance(item, dict | list) else item}" for key, item in value.items()
            )
        elif name == "body":
            lines.append("body:")
            lines.extend(f"  {line}" for line in str(value).splitlines() or [""])
        else:
            lines.append(f"{name}: {value}")
    return "\n".join(lines)


ACTION_WORDS = {
    "replayed": "replayed",
    "would_replay": "would replay",
    "still_failing": "still failing",
    "would_still_fail": "would still fail",
    "not_replayable": "not replayable",
    "error": "error",
}


def format_replay(report: ReplayReport) -> str:
    results = report.results
    labels = [ACTION_WORDS[result.action] for result in results]
    width = max((len(label) for label in labels), default=0)
    entries = format_entries([r.entry for r in results], extra=[r.detail for r in results])
    lines = [f"{label.ljust(width)}  {line}" for label, line in zip(labels, entries, strict=True)]
    counts = ", ".join(f"{count} {ACTION_WORDS[action]}" for action, count in report.counts.items()) or "0 selected"
    prefix = "dry run, nothing changed: " if report.dry_run else "replay: "
    lines.append(prefix + counts)
    return "\n".join(lines + _not_read_note(report.not_read))


def format_purge(report: PurgeReport) -> str:
    lines = [f"purged  {line}" for line in format_entries(report.purged)]
    lines += [f"NOT deleted  {line}" for line in format_entries(report.failed)]
    lines.append(f"purged {len(report.purged)} record(s)" + (f", {len(report.failed)} failed" if report.failed else ""))
    return "\n".join(lines + _not_read_note(report.not_read))


def _emit(args: argparse.Namespace, data: dict[str, Any], text: str) -> None:
    print(json.dumps(data, indent=2) if args.json else text)


def _confirm(prompt: str) -> bool:
    if not sys.stdin.isatty():
        return False
    try:
        return input(prompt).strip().lower() in ("y", "yes")
    except EOFError:
        return False


def run(args: argparse.Namespace) -> int:
    """The parsed command, against AWS (or moto, in-process). Returns the exit status."""
    from signup_relay.aws.dead_letter_reader import get_cloudformation_client, stack_outputs
    from signup_relay.aws.dead_letters import DeadLetterQueue
    from signup_relay.aws.queue import SignupQueue, get_sqs_client
    from signup_relay.config import get_settings

    settings = get_settings()
    dlq_url, queue_url = resolve_queue_urls(
        dlq_url=args.dlq_url,
        queue_url=args.queue_url,
        stack_name=args.stack_name,
        env_dlq_url=settings.dlq_url,
        env_queue_url=settings.queue_url,
        stack_outputs=lambda name: stack_outputs(name, get_cloudformation_client()),
    )
    if not dlq_url:
        raise ConfigError("no DLQ URL: pass --dlq-url or --stack-name, or set DLQ_URL")
    client = get_sqs_client()
    reader = DeadLetterReader(
        url=dlq_url, client=client, visibility_timeout=args.visibility_timeout, wait_seconds=args.wait
    )
    command = args.command or "list"
    selection = Selection(
        route=getattr(args, "route", None),
        error_class=getattr(args, "error_class", None),
        ids=tuple(getattr(args, "ids", [])),
    )

    if command == "list":
        listing = list_dead_letters(reader, selection)
        _emit(args, listing.to_json(), format_listing(listing))
        return 0
    if command == "show":
        try:
            entry = find_dead_letter(reader, args.id)
        except LookupError as error:
            print(f"error: {error.args[0]}", file=sys.stderr)
            return 1
        _emit(args, entry.to_json(detail=True), format_entry(entry))
        return 0
    if command == "replay":
        if not queue_url:
            raise ConfigError("no signup queue URL: pass --queue-url or --stack-name, or set QUEUE_URL")
        from signup_relay.routes import load_routes

        routes_file = args.routes_file or settings.routes_file
        report = replay_dead_letters(
            reader,
            queue=SignupQueue(url=queue_url, client=client),
            dlq=DeadLetterQueue(url=dlq_url, client=client),
            load_routes=lambda: load_routes(routes_file),
            selection=selection,
            dry_run=args.dry_run,
        )
        _emit(args, report.to_json(), format_replay(report))
        return 1 if report.left_in_dlq else 0
    # purge
    if not args.yes:
        listing = list_dead_letters(reader, selection)
        if not listing.entries:
            _emit(args, PurgeReport(purged=()).to_json(), "nothing to purge")
            return 0
        print("\n".join(format_entries(listing.entries)), file=sys.stderr)
        if not _confirm(f"Delete these {len(listing.entries)} record(s) for good? [y/N] "):
            print("not purged: confirm at the prompt, or pass --yes", file=sys.stderr)
            return 1
        # Exactly the records shown, not whatever else arrived meanwhile.
        selection = Selection(ids=tuple(entry.id for entry in listing.entries))
    purge_report = purge_dead_letters(reader, selection)
    _emit(args, purge_report.to_json(), format_purge(purge_report))
    return 1 if purge_report.failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return run(args)
    except ConfigError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 2
    except (BotoCoreError, ClientError) as error:
        print(f"AWS error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
