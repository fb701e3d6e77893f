"""The bulk path's pure parts: import rows, who is ruled out of the import, and how imports are cut."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from msgspec.structs import replace

from signup_relay.bulk.activity import BODY_MARGIN_BYTES, chunks
from signup_relay.bulk.plan import rule_out
from signup_relay.bulk.rows import RowRefused, consent_evidence_text, import_row
from signup_relay.models import Address, ConsentEvidence, Signup
from signup_relay.routes import Consent, UpsertOptions

EVIDENCE = ConsentEvidence(at=datetime(2026, 11, 26, 9, 30, tzinfo=UTC), source="tally", form="Launch")


def signup(**fields: object) -> Signup:
    values: dict[str, object] = {"email": "ada@example.com", "lists": ("News",), "consent": Consent.IMPLICIT}
    values.update(fields)
    return Signup(**values)  # type: ignore[arg-type]


def test_a_row_carries_only_non_empty_values_the_later_winning() -> None:
    # Given two sign-ups of one person, the second with an empty name and a new phone
    first = signup(first_name="Ada", company_name="Engines", phone="+1 555 0100", phone_kind="home")
    second = signup(first_name="  ", last_name="Lovelace", address=Address(kind="work", city="London", street=""))
    # When they become one row
    row = import_row("ada@example.com", [first, second], [{"Colour": "green"}, {"Colour": ""}], consent_field=None)
    # Then nothing empty is sent, the earlier values stay, and custom fields go by name
    assert row == {
        "email": "ada@example.com",
        "first_name": "Ada",
        "company_name": "Engines",
        "home_phone": "+1 555 0100",
        "last_name": "Lovelace",
        "work_city": "London",
        "cf:Colour": "green",
    }


def test_the_consent_evidence_goes_in_its_field_when_it_fits() -> None:
    row = import_row("ada@example.com", [signup(consent_evidence=EVIDENCE)], [{}], consent_field="signup_relay_consent")
    assert row["cf:signup_relay_consent"].startswith("Consent (implicit) at 2026-11-26T09:30:00Z, source tally")
    long = replace(EVIDENCE, text="I agree " * 40)
    with pytest.raises(RowRefused):
        consent_evidence_text(signup(consent_evidence=long))
    no_note = signup(consent_evidence=EVIDENCE, options=UpsertOptions(record_consent_note=False))
    assert consent_evidence_text(no_note) is None


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"consent": Consent.EXPLICIT}, "explicit"),
        ({"consent": Consent.NONE}, "no consent"),
        ({"email": "a" * 45 + "@example.com"}, "50 characters"),
        ({"lists": ()}, "no list"),
        ({"clear_fields": ("first_name",)}, "clear"),
        ({"options": UpsertOptions(send_resubscribe_email=True)}, "resubscribe"),
    ],
)
def test_what_the_import_cannot_carry_goes_per_contact(fields: dict[str, object], reason: str) -> None:
    assert reason in (rule_out(signup(**fields)) or "")


def test_implicit_and_allowed_none_are_importable() -> None:
    assert rule_out(signup()) is None
    assert rule_out(signup(consent=Consent.NONE, options=UpsertOptions(allow_create_without_consent=True))) is None


def test_imports_are_cut_by_rows_and_by_bytes() -> None:
    rows = [{"email": f"p{n}@example.com", "first_name": "x" * 40} for n in range(10)]
    assert [len(c) for c in chunks(rows, max_rows=4)] == [4, 4, 2]
    one_row = len('{"email":"p0@example.com","first_name":"' + "x" * 40 + '"}') + 1
    cut = list(chunks(rows, max_bytes=BODY_MARGIN_BYTES + 3 * one_row))
    assert [len(c) for c in cut] == [3, 3, 3, 1]
    assert [i for c in cut for i in c] == list(range(10))
