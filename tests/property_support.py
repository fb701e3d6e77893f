"""What the V3 and V2 sandbox property tests share: the consents a form can carry, field values, and the checks of
what the sandbox stored that hold on both APIs."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

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


def permission(contact: dict[str, Any] | None) -> str | None:
    """The stored contact's permission_to_send (None: no contact)."""
    return None if contact is None else contact["email_address"]["permission_to_send"]


def assert_fields_kept(
    before: dict[str, Any], after: dict[str, Any], fields: Iterable[str], cleared: Iterable[str], note: str
) -> None:
    """No stored non-empty one of `fields` became empty, unless the sign-up named it to clear."""
    for name in fields:
        if before.get(name) and name not in cleared:
            assert after.get(name), f"{name} was blanked; {note}"


def assert_lists_kept(before: dict[str, Any], after: dict[str, Any], note: str) -> None:
    """Lists only grow; a contact still unsubscribed keeps exactly the lists it had."""
    if permission(after) == "unsubscribed":
        assert after["list_memberships"] == before["list_memberships"], note
    else:
        assert set(after["list_memberships"]) >= set(before["list_memberships"]), note
