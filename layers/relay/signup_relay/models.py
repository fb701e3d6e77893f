"""The data that crosses module boundaries: what a form sent, what we upsert, and what happened.

msgspec Structs, not pydantic models: these load on every upsert cold start (docs/architecture.md §1, "Two
validation libraries"). Data from outside is validated by `decode` / `convert`; code that builds a model is
checked by mypy. `msgspec.structs.replace(model, **changes)` is the copy-with-changes.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

import msgspec


class Outcome(StrEnum):
    """The vocabulary of logs, metrics, DLQ records and summaries."""

    CREATED = "created"
    UPDATED = "updated"
    REVIVED = "revived"
    RESUBSCRIBED = "resubscribed"
    KEPT_UNSUBSCRIBED = "kept_unsubscribed"
    REJECTED = "rejected"  # refused for good (the policy, a 4xx): retrying cannot help
    DEFERRED = "deferred"  # a transient failure: SQS delivers it again
    FAILED = "failed"  # a transient failure that outlasted every attempt: dead-lettered, replay when it is over


class _Frozen(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Immutable, and an unknown key in incoming data is an error (each model is also built by keyword only)."""


class Consent(StrEnum):
    """What the person agreed to on this sign-up (docs/architecture.md §2)."""

    EXPLICIT = "explicit"  # ticked a box / asked to be emailed on this form
    IMPLICIT = "implicit"  # a business relationship, no explicit opt-in
    NONE = "none"  # no consent captured: create only if the route allows


class UpsertOptions(_Frozen, frozen=True, kw_only=True):
    """A route's upsert options, declared once: keys of the routes file (`routes.Route` takes its fields from
    here) and the policy carried with each of its queued sign-ups (a DLQ replay applies its route's current
    options)."""

    create_missing_lists: bool = False
    create_missing_custom_fields: bool = False
    create_missing_tags: bool = True
    allow_create_without_consent: bool = False  # consent=none creates a contact only if True
    send_resubscribe_email: bool = False  # one-time resubscribe email for unsubscribed contacts
    # Public forms: explicit consent from an unsubscribed contact sends the one-time resubscribe confirmation
    # email instead of opting them back in through sign_up_form (docs/architecture.md §2).
    confirm_resubscribe_by_email: bool = False
    record_consent_note: bool = True
    # sign_up_form cannot carry notes: writing the consent note there costs a GET + PUT (2 more calls).
    consent_note_on_sign_up_form: bool = False
    # Which Constant Contact API: None = the account's (its secret says "api": "v2" for a V2 account, else V3).
    api: Literal["v3", "v2"] | None = None


class Address(_Frozen, frozen=True, kw_only=True):
    kind: Literal["home", "work", "other"] = "home"
    street: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None


class ConsentEvidence(_Frozen, frozen=True, kw_only=True):
    """Who agreed, when, where: kept with the contact as a note."""

    at: datetime
    source: str
    form: str | None = None
    ip: str | None = None
    text: str | None = None  # the checkbox label or consent wording, when the form sends it


class Signup(_Frozen, frozen=True, kw_only=True):
    """One person signing up, normalized from any source. Field names follow Constant Contact."""

    email: str
    first_name: str | None = None
    last_name: str | None = None
    job_title: str | None = None
    company_name: str | None = None
    phone: str | None = None
    phone_kind: Literal["home", "work", "mobile", "other"] = "mobile"
    address: Address | None = None
    birthday_month: Annotated[int, msgspec.Meta(ge=1, le=12)] | None = None
    birthday_day: Annotated[int, msgspec.Meta(ge=1, le=31)] | None = None
    anniversary: str | None = None
    custom_fields: dict[str, str] = msgspec.field(default_factory=dict)  # by custom field name (or label)
    lists: tuple[str, ...] = ()  # by list name
    tags: tuple[str, ...] = ()  # by tag name
    consent: Consent = Consent.NONE
    consent_evidence: ConsentEvidence | None = None
    clear_fields: tuple[str, ...] = ()  # core fields the form sent empty and the route allows to clear
    options: UpsertOptions = msgspec.field(default_factory=UpsertOptions)
    source: str = "generic"
    route: str = ""
    delivery_id: str | None = None
    account: str | None = None  # Secrets Manager id of the Constant Contact account; None = default
    # When the person submitted the form: the sender's own timestamp, else when receive accepted the delivery.
    # The policy never re-subscribes someone who opted out after this (docs/architecture.md §2).
    submitted_at: datetime | None = None


class UpsertResult(_Frozen, frozen=True, kw_only=True):
    outcome: Outcome
    contact_id: str | None = None
    reason: str | None = None
    calls: int = 0  # Constant Contact API calls this sign-up cost


class QueuedSignup(_Frozen, frozen=True, kw_only=True):
    """The SQS message body from `receive` to `upsert`."""

    version: Literal[1] = 1
    id: str  # the id answered to the sender; equals the FIFO dedupe id
    received_at: datetime
    signup: Signup

    def __post_init__(self) -> None:
        # Messages queued before Signup carried submitted_at: the person submitted no later than receive accepted.
        if self.signup.submitted_at is None:
            signup = msgspec.structs.replace(self.signup, submitted_at=self.received_at)
            msgspec.structs.force_setattr(self, "signup", signup)


class FailureRecord(_Frozen, frozen=True, kw_only=True):
    """What the DLQ keeps: enough to understand and replay the submission."""

    stage: Literal["receive", "upsert"]
    route: str
    error_class: str
    message: str
    attempts: int = 1
    failed_at: datetime
    field_errors: dict[str, str] = msgspec.field(default_factory=dict)
    signup: Signup | None = None  # upsert failures: the queued sign-up
    queued_id: str | None = None
    received_at: datetime | None = None  # when receive accepted the delivery (replays keep it; absent on old records)
    content_type: str | None = None  # receive failures: the original submission
    body_base64: str | None = None
    headers: dict[str, str] = msgspec.field(default_factory=dict)  # secrets and signatures removed


class RawRequest(_Frozen, frozen=True, kw_only=True):
    """A webhook delivery as received: the exact body bytes (signatures are over these) and headers."""

    method: str = "POST"
    path: str = ""
    headers: dict[str, str] = msgspec.field(default_factory=dict)  # names lower-cased
    query: dict[str, str] = msgspec.field(default_factory=dict)
    raw_query: str = ""  # the query string exactly as sent (HubSpot v3 signs the full request URI)
    body: bytes = b""
    source_ip: str | None = None

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()


# What `decode` and `convert` raise for data that is not valid JSON or does not fit the model.
InvalidModel = msgspec.DecodeError


def decode[Model: _Frozen](data: str | bytes, model: type[Model]) -> Model:
    """A model from JSON text, validated."""
    return msgspec.json.decode(data, type=model)


def convert[Model: _Frozen](data: Any, model: type[Model]) -> Model:
    """A model from already-parsed JSON data (a dict), validated."""
    return msgspec.convert(data, type=model)


def to_json(model: _Frozen) -> str:
    """A model as JSON text (datetimes as RFC 3339, enums as their values)."""
    return msgspec.json.encode(model).decode()


def to_data(model: _Frozen) -> dict[str, Any]:
    """A model as JSON-ready data (the dict `to_json` would write)."""
    data: dict[str, Any] = msgspec.to_builtins(model)
    return data
