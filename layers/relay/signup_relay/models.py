"""The data that crosses module boundaries: what a form sent, what we upsert, and what happened."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


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


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Consent(StrEnum):
    """What the person agreed to on this sign-up (docs/architecture.md §2)."""

    EXPLICIT = "explicit"  # ticked a box / asked to be emailed on this form
    IMPLICIT = "implicit"  # a business relationship, no explicit opt-in
    NONE = "none"  # no consent captured: create only if the route allows


class UpsertOptions(_Frozen):
    """A route's upsert options, declared once: keys of the routes file (`routes.Route` inherits them) and the
    policy carried with each of its queued sign-ups (a DLQ replay applies its route's current options)."""

    model_config = ConfigDict(populate_by_name=True)  # as the routes file's models

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


class Address(_Frozen):
    kind: Literal["home", "work", "other"] = "home"
    street: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None


class ConsentEvidence(_Frozen):
    """Who agreed, when, where: kept with the contact as a note."""

    at: datetime
    source: str
    form: str | None = None
    ip: str | None = None
    text: str | None = None  # the checkbox label or consent wording, when the form sends it


class Signup(_Frozen):
    """One person signing up, normalized from any source. Field names follow Constant Contact."""

    email: str
    first_name: str | None = None
    last_name: str | None = None
    job_title: str | None = None
    company_name: str | None = None
    phone: str | None = None
    phone_kind: Literal["home", "work", "mobile", "other"] = "mobile"
    address: Address | None = None
    birthday_month: int | None = Field(default=None, ge=1, le=12)
    birthday_day: int | None = Field(default=None, ge=1, le=31)
    anniversary: str | None = None
    custom_fields: dict[str, str] = Field(default_factory=dict)  # by custom field name (or label)
    lists: tuple[str, ...] = ()  # by list name
    tags: tuple[str, ...] = ()  # by tag name
    consent: Consent = Consent.NONE
    consent_evidence: ConsentEvidence | None = None
    clear_fields: tuple[str, ...] = ()  # core fields the form sent empty and the route allows to clear
    options: UpsertOptions = Field(default_factory=UpsertOptions)
    source: str = "generic"
    route: str = ""
    delivery_id: str | None = None
    account: str | None = None  # Secrets Manager id of the Constant Contact account; None = default
    # When the person submitted the form: the sender's own timestamp, else when receive accepted the delivery.
    # The policy never re-subscribes someone who opted out after this (docs/architecture.md §2).
    submitted_at: datetime | None = None


class UpsertResult(_Frozen):
    outcome: Outcome
    contact_id: str | None = None
    reason: str | None = None
    calls: int = 0  # Constant Contact API calls this sign-up cost


class QueuedSignup(_Frozen):
    """The SQS message body from `receive` to `upsert`."""

    version: Literal[1] = 1
    id: str  # the id answered to the sender; equals the FIFO dedupe id
    received_at: datetime
    signup: Signup

    @model_validator(mode="after")
    def _submitted_no_later_than_received(self) -> QueuedSignup:
        # Messages queued before Signup carried submitted_at: the person submitted no later than receive accepted.
        if self.signup.submitted_at is None:
            signup = self.signup.model_copy(update={"submitted_at": self.received_at})
            object.__setattr__(self, "signup", signup)
        return self


class FailureRecord(BaseModel):
    """What the DLQ keeps: enough to understand and replay the submission."""

    model_config = ConfigDict(extra="forbid")

    stage: Literal["receive", "upsert"]
    route: str
    error_class: str
    message: str
    attempts: int = 1
    failed_at: datetime
    field_errors: dict[str, str] = Field(default_factory=dict)
    signup: Signup | None = None  # upsert failures: the queued sign-up
    queued_id: str | None = None
    received_at: datetime | None = None  # when receive accepted the delivery (replays keep it; absent on old records)
    content_type: str | None = None  # receive failures: the original submission
    body_base64: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)  # secrets and signatures removed


class RawRequest(_Frozen):
    """A webhook delivery as received: the exact body bytes (signatures are over these) and headers."""

    method: str = "POST"
    path: str = ""
    headers: dict[str, str] = Field(default_factory=dict)  # names lower-cased
    query: dict[str, str] = Field(default_factory=dict)
    raw_query: str = ""  # the query string exactly as sent (HubSpot v3 signs the full request URI)
    body: bytes = b""
    source_ip: str | None = None

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()
