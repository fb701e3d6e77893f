"""What a DLQ message is, decoded into an `Entry` whose views mask emails (the failure flow: docs/architecture.md).

- receive-stage FailureRecords: authenticated deliveries that could not be parsed or mapped (415, 400, 422), with
  the body (secrets redacted) and headers (secrets removed).
- upsert-stage FailureRecords (the queued Signup + its id), and bare QueuedSignups moved by the queue's redrive
  policy after crashes or timeouts ("redriven").
- anything else is "unreadable".
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import unquote

from signup_relay.aws.dead_letter_reader import DeadLetter
from signup_relay.models import FailureRecord, InvalidModel, QueuedSignup, Signup, convert, decode, to_data
from signup_relay.observability import mask_email, mask_emails_in
from signup_relay.receive.redaction import redact_mapping

Kind = Literal["receive", "upsert", "redriven", "unreadable"]

REDRIVEN_CLASS = "redriven"
REDRIVEN_MESSAGE = "moved here by the queue's redrive policy: the upsert function crashed or timed out on every try"
UNREADABLE_CLASS = "unreadable"
UNREADABLE_MESSAGE = "the message is neither a FailureRecord nor a QueuedSignup"
# A URL-encoded address in any script: its non-ASCII characters are %XX escapes.
_URL_ENCODED_EMAIL = re.compile(
    r"(?:[A-Za-z0-9._+\-']|%[0-9A-Fa-f]{2})+%40(?:[A-Za-z0-9.\-]|%[0-9A-Fa-f]{2})+\.[A-Za-z]{2,}"
)


def mask_text(text: str) -> str:
    """Every email in `text` masked, URL-encoded ones (form bodies) included."""
    text = _URL_ENCODED_EMAIL.sub(lambda match: mask_email(unquote(match.group(0))), text)
    return mask_emails_in(text)


def iso_timestamp(value: datetime | None) -> str | None:
    """`value` in UTC to the second, as 2026-03-01T10:00:00Z."""
    if value is None:
        return None
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


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
            "failed_at": iso_timestamp(self.failed_at),
            "message": mask_text(self.message),
            "queued_id": self.queued_id,
        }
        if not detail:
            return data
        record = self.record
        data["received_at"] = iso_timestamp(self.queued.received_at) if self.queued is not None else None
        data["dlq_sent_at"] = iso_timestamp(self.letter.sent_at)
        data["field_errors"] = {k: mask_text(v) for k, v in record.field_errors.items()} if record else {}
        data["content_type"] = record.content_type if record else None
        data["headers"] = redact_mapping(record.headers) if record else {}
        data["body"] = _body_text(record.body_base64) if record and record.body_base64 else None
        data["signup"] = _masked_signup(self.queued.signup) if self.queued is not None else None
        if self.kind == "unreadable":
            data["body"] = mask_text(self.letter.body[:4000])
        return data


def _body_text(body_base64: str) -> str:
    try:
        raw = base64.b64decode(body_base64)
    except ValueError:
        return "(not base64)"
    return mask_text(raw[:4000].decode("utf-8", "replace"))


def _masked_signup(signup: Signup) -> dict[str, Any]:
    data = to_data(signup)
    data["email"] = mask_email(signup.email)
    masked: dict[str, Any] = json.loads(mask_text(json.dumps(data)))
    return masked


def _queued_from_text(text: str) -> QueuedSignup | None:
    try:
        return decode(text, QueuedSignup)
    except InvalidModel:
        return None


def decode_entry(letter: DeadLetter) -> Entry:
    """Classify a DLQ message: a receive- or upsert-stage FailureRecord, a redriven QueuedSignup, or unreadable."""
    try:
        data = json.loads(letter.body)
    except ValueError:
        return Entry(letter, "unreadable")
    if isinstance(data, dict) and "stage" in data:
        try:
            record = convert(data, FailureRecord)
        except InvalidModel:
            return Entry(letter, "unreadable")
        queued = None
        if record.stage == "upsert" and record.signup is not None and record.queued_id and record.received_at:
            # The queued sign-up as upsert kept it (upsert/attempt.py writes all three together).
            queued = QueuedSignup(id=record.queued_id, received_at=record.received_at, signup=record.signup)
        elif record.stage == "upsert" and record.body_base64:
            # `invalid_message`: the original body, kept for a human; replayable if it is a QueuedSignup now.
            try:
                queued = _queued_from_text(base64.b64decode(record.body_base64).decode("utf-8"))
            except ValueError:
                queued = None
        return Entry(letter, record.stage, record, queued)
    queued = _queued_from_text(letter.body)
    return Entry(letter, "redriven", None, queued) if queued is not None else Entry(letter, "unreadable")
