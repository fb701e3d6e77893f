"""One builder for the sign-ups the engine and bulk tests send: keyword defaults each caller overrides."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from signup_relay.models import ConsentEvidence, Signup
from signup_relay.routes import Consent

EVIDENCE = ConsentEvidence(
    at=datetime(2026, 11, 26, 9, 30, tzinfo=UTC), source="tally", form="Newsletter", ip="203.0.113.9"
)


def signup(email: str, consent: Consent = Consent.IMPLICIT, **fields: Any) -> Signup:
    """A sign-up for `email` to the News list from a Tally form, with consent evidence; `fields` override or add."""
    values: dict[str, Any] = {
        "email": email,
        "lists": ("News",),
        "consent": consent,
        "consent_evidence": EVIDENCE,
        "source": "tally",
        "route": "newsletter",
    }
    return Signup(**(values | fields))
