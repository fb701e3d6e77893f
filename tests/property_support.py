"""What the V3 and V2 sandbox property tests draw from: the consents a form can carry, and field values."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import strategies as st

from signup_relay.models import Consent, ConsentEvidence

CONSENTS = {  # name -> (consent, allow_create_without_consent)
    "explicit": (Consent.EXPLICIT, False),
    "implicit": (Consent.IMPLICIT, False),
    "none": (Consent.NONE, False),
    "none_allowed": (Consent.NONE, True),
}
EVIDENCE = ConsentEvidence(at=datetime(2026, 11, 26, 9, 30, tzinfo=UTC), source="tally", form="Newsletter")

# A sign-up's field: absent, blank, or text; a stored contact's field: non-empty text.
values = st.none() | st.sampled_from(["", "  "]) | st.text("abcdefghij ", min_size=1, max_size=20)
names = st.text("ABCDEFGHIJabcdefghij", min_size=1, max_size=20)
