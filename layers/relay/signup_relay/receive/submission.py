"""What a form sent, flattened: the common shape every source parser produces and `mapping` consumes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# Field-type hints a parser may attach to an answer (from the builder's own type, never guessed from values).
KIND_EMAIL = "email"
KIND_PHONE = "phone"
KIND_FIRST_NAME = "first_name"
KIND_LAST_NAME = "last_name"
KIND_FULL_NAME = "full_name"
KIND_STREET = "street"
KIND_CITY = "city"
KIND_STATE = "state"
KIND_POSTAL_CODE = "postal_code"
KIND_COUNTRY = "country"
KIND_DATE = "date"
KIND_BOOLEAN = "boolean"
KIND_CHOICE = "choice"
KIND_HIDDEN = "hidden"
KIND_URL = "url"
KIND_NUMBER = "number"
KIND_TEXT = "text"

Value = str | tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Answer:
    """One answer: `key` is the builder's stable id/name, `label` the question text when the payload has it."""

    key: str
    value: Value
    label: str | None = None
    kind: str | None = None

    @property
    def text(self) -> str:
        """The value as one string (multi-value answers joined with ', ')."""
        return ", ".join(self.value) if isinstance(self.value, tuple) else self.value

    @property
    def values(self) -> tuple[str, ...]:
        return self.value if isinstance(self.value, tuple) else (self.value,)


@dataclass(frozen=True, slots=True)
class Submission:
    """One form submission as a source delivered it, before any route mapping."""

    source: str
    answers: tuple[Answer, ...] = ()
    delivery_id: str | None = None  # the sender's id for this delivery (dedupe); None = hash the body
    form_id: str | None = None
    form_name: str | None = None
    submitted_at: datetime | None = None
    ip: str | None = None  # the person's IP when the builder reports it (not the sender's server)
