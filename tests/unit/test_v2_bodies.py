"""The V2 body builders: a PUT is the whole stored record with only what the sign-up carries changed."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from signup_relay.errors import ValidationError
from signup_relay.models import Address, Signup
from signup_relay.upsert.v2_bodies import build_v2_create_body, build_v2_merged_put

RICH: dict[str, Any] = {
    "id": "42",
    "status": "ACTIVE",
    "prefix_name": "Dr.",
    "first_name": "Ada",
    "middle_name": "K",
    "last_name": "Lovelace",
    "job_title": "Analyst",
    "company_name": "Engines Ltd",
    "home_phone": "+44 20 0000 0001",
    "work_phone": "+44 20 0000 0002",
    "cell_phone": "+44 7700 000003",
    "fax": "+44 20 0000 0004",
    "source": "Import",
    "email_addresses": [{"id": "e1", "email_address": "ada@example.com", "status": "ACTIVE"}],
    "addresses": [
        {"id": "a1", "line1": "1 Analytical St", "city": "London", "postal_code": "N1", "address_type": "PERSONAL"},
        {"id": "a2", "line1": "2 Works Rd", "city": "Leeds", "address_type": "BUSINESS"},
    ],
    "custom_fields": [{"name": "CustomField1", "value": "blue"}, {"name": "CustomField2", "value": "tea"}],
    "lists": [{"id": "1", "status": "ACTIVE"}],
    "notes": [{"id": "n1", "note": "met at the conference"}],
}


def _signup(**fields: Any) -> Signup:
    return Signup(**{"email": "ada@example.com", "lists": ("News",), **fields})


def test_a_put_keeps_every_stored_field_when_the_sign_up_sends_only_an_address() -> None:
    # Given a rich stored record
    stored = copy.deepcopy(RICH)
    # When a sign-up with just the email and a list is merged
    body = build_v2_merged_put(stored, _signup(), ["2"], {}, note="Consent (explicit)")
    # Then every field, address, custom field and note is sent back as stored, and the list is appended
    assert {k: v for k, v in body.items() if k != "lists"} == {k: v for k, v in RICH.items() if k != "lists"}
    assert body["lists"] == [{"id": "1", "status": "ACTIVE"}, {"id": "2"}]
    assert stored == RICH  # the stored record is not mutated


def test_new_values_win_and_merge_by_kind_name_and_type() -> None:
    signup = _signup(
        first_name="Augusta",
        phone="+1 555 0100",
        phone_kind="work",
        address=Address(kind="home", city="Marylebone", state="ny", country="gb"),
    )
    body = build_v2_merged_put(RICH, signup, ["1"], {"CustomField2": "coffee", "CustomField9": "yes"}, note=None)
    assert body["first_name"] == "Augusta" and body["last_name"] == "Lovelace"
    assert body["work_phone"] == "+1 555 0100" and body["cell_phone"] == RICH["cell_phone"]
    personal = next(a for a in body["addresses"] if a["address_type"] == "PERSONAL")
    assert personal == {**RICH["addresses"][0], "city": "Marylebone", "state_code": "NY", "country_code": "GB"}
    assert len(body["addresses"]) == 2
    assert body["custom_fields"] == [
        {"name": "CustomField1", "value": "blue"},
        {"name": "CustomField2", "value": "coffee"},
        {"name": "CustomField9", "value": "yes"},
    ]
    assert body["lists"] == [{"id": "1", "status": "ACTIVE"}]


def test_the_consent_note_goes_only_where_there_is_no_note() -> None:
    bare = {k: v for k, v in RICH.items() if k != "notes"}
    assert build_v2_merged_put(bare, _signup(), ["1"], {}, note="Consent")["notes"] == [{"note": "Consent"}]
    assert build_v2_merged_put(RICH, _signup(), ["1"], {}, note="Consent")["notes"] == RICH["notes"]


def test_an_empty_answer_clears_only_where_the_route_allows_it() -> None:
    assert build_v2_merged_put(RICH, _signup(), ["1"], {}, None)["job_title"] == "Analyst"
    cleared = build_v2_merged_put(RICH, _signup(clear_fields=("job_title",)), ["1"], {}, None)
    assert cleared["job_title"] == ""


def test_the_create_body_carries_the_v2_shapes() -> None:
    signup = _signup(
        first_name="Grace",
        company_name="Navy",
        phone="555 0199",
        address=Address(kind="work", street="1 Pier", city="Arlington", state="VA", country="US"),
    )
    body = build_v2_create_body(signup, "grace@example.com", ["1", "1", "3"], {"CustomField3": "x"}, note="N")
    assert body == {
        "email_addresses": [{"email_address": "grace@example.com"}],
        "first_name": "Grace",
        "company_name": "Navy",
        "cell_phone": "555 0199",
        "addresses": [
            {
                "address_type": "BUSINESS",
                "line1": "1 Pier",
                "city": "Arlington",
                "state_code": "VA",
                "country_code": "US",
            }
        ],
        "custom_fields": [{"name": "CustomField3", "value": "x"}],
        "lists": [{"id": "1"}, {"id": "3"}],
        "notes": [{"note": "N"}],
    }


def test_a_cell_phone_over_50_characters_is_refused_before_the_call() -> None:
    with pytest.raises(ValidationError, match="cell_phone has 51 characters"):
        build_v2_create_body(_signup(phone="1" * 51), "a@example.com", ["1"], {}, None)
