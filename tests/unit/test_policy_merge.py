"""The pure payload builders of the upsert policy: merged PUT, POST and sign_up_form bodies, consent note."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from signup_relay.errors import ValidationError
from signup_relay.models import Address, ConsentEvidence, Signup
from signup_relay.routes import Consent
from signup_relay.upsert.bodies import (
    ResolvedIds,
    build_consent_note,
    build_create_body,
    build_merged_put,
    build_sign_up_form_body,
    merge_phone_numbers,
    merge_street_addresses,
)
from signup_relay.upsert.policy import ContactState, contact_state
from tests.unit.cc_schemas import POST_PROPERTIES, PUT_PROPERTIES, SIGN_UP_FORM_PROPERTIES

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "cc"
OLD_LIST = "list-old-0000-0000-0000-000000000001"
NEW_LIST = "list-new-0000-0000-0000-000000000002"
CF_COLOUR = "cf-000000-0000-0000-0000-000000000001"
CF_TIER = "cf-000000-0000-0000-0000-000000000002"
CF_SOURCE = "cf-000000-0000-0000-0000-000000000003"
OLD_TAG = "tag-old-0000-0000-0000-000000000001"
NEW_TAG = "tag-new-0000-0000-0000-000000000002"


@pytest.fixture
def stored() -> dict[str, Any]:
    return json.loads((FIXTURES / "contact_active_full.json").read_text())


def evidence() -> ConsentEvidence:
    return ConsentEvidence(
        at=datetime(2026, 11, 26, 9, 30, tzinfo=UTC),
        source="typeform",
        form="Newsletter",
        ip="203.0.113.9",
        text="Email me news",
    )


def ids(**overrides: Any) -> ResolvedIds:
    values: dict[str, Any] = {"list_ids": [NEW_LIST], "custom_field_values": {}, "tag_ids": []}
    values.update(overrides)
    return ResolvedIds(**values)


def test_merged_put_keeps_every_stored_value_the_form_did_not_send(stored: dict[str, Any]) -> None:
    # Given a stored contact with job title, company, birthday, anniversary, phone, address, custom fields
    # When a form that only sends a first name and a new list is merged into it
    signup = Signup(email="ada.lovelace@example.com", first_name="Augusta", lists=("News",))
    body = build_merged_put(stored, signup, ids(), update_source="Contact")
    # Then the new value wins and every other stored value is sent back unchanged
    assert body["first_name"] == "Augusta"
    assert body["last_name"] == "Lovelace"
    assert body["job_title"] == "Analyst"
    assert body["company_name"] == "Engines Ltd"
    assert (body["birthday_month"], body["birthday_day"]) == (12, 10)
    assert body["anniversary"] == "2020-05-01"
    assert body["phone_numbers"] == [{"phone_number": "+44 20 7946 0001", "kind": "work"}]
    assert body["street_addresses"][0]["city"] == "London"
    assert body["custom_fields"] == [
        {"custom_field_id": CF_COLOUR, "value": "blue"},
        {"custom_field_id": CF_TIER, "value": "gold"},
    ]
    assert body["list_memberships"] == [OLD_LIST, NEW_LIST]
    assert body["taggings"] == [OLD_TAG]
    assert body["notes"][0]["content"] == "Met at the fair."
    assert body["update_source"] == "Contact"


def test_merged_put_keeps_the_stored_permission_and_address(stored: dict[str, Any]) -> None:
    # Given a stored implicit contact whose address has capitals
    signup = Signup(email="ada.lovelace@example.com", lists=("News",))
    # When merged without a permission override
    body = build_merged_put(stored, signup, ids(), update_source="Contact")
    # Then the email object is the stored one, permission unchanged, and only spec properties are sent
    assert body["email_address"] == {"address": "Ada.Lovelace@example.com", "permission_to_send": "implicit"}
    assert set(body) <= PUT_PROPERTIES


def test_merged_put_sets_permission_only_when_asked(stored: dict[str, Any]) -> None:
    # Given explicit consent on a long-email path
    signup = Signup(email="ada.lovelace@example.com", lists=("News",), consent=Consent.EXPLICIT)
    # When merged with permission explicit
    body = build_merged_put(stored, signup, ids(), update_source="Contact", permission="explicit")
    # Then the permission is explicit
    assert body["email_address"]["permission_to_send"] == "explicit"


def test_empty_form_values_never_overwrite_unless_listed_in_clear_fields(stored: dict[str, Any]) -> None:
    # Given a form that sent job title and company empty, and a route that allows clearing the company only
    signup = Signup(
        email="ada.lovelace@example.com",
        job_title="  ",
        company_name="",
        lists=("News",),
        clear_fields=("company_name", "birthday"),
    )
    # When merged
    body = build_merged_put(stored, signup, ids(), update_source="Contact")
    # Then the job title is kept, the company and birthday are left out (cleared by PUT semantics)
    assert body["job_title"] == "Analyst"
    assert "company_name" not in body
    assert "birthday_month" not in body
    assert "birthday_day" not in body


def test_custom_fields_merge_by_id_and_new_values_win(stored: dict[str, Any]) -> None:
    # Given a stored colour and tier, and a form sending a new colour and a source
    signup = Signup(email="ada.lovelace@example.com", lists=("News",))
    resolved = ids(custom_field_values={CF_COLOUR: "green", CF_SOURCE: "fair"})
    # When merged
    body = build_merged_put(stored, signup, resolved, update_source="Contact")
    # Then the colour is replaced, the tier kept and the source added
    assert body["custom_fields"] == [
        {"custom_field_id": CF_COLOUR, "value": "green"},
        {"custom_field_id": CF_TIER, "value": "gold"},
        {"custom_field_id": CF_SOURCE, "value": "fair"},
    ]


def test_lists_and_tags_are_unions_and_lists_can_be_left_untouched(stored: dict[str, Any]) -> None:
    # Given a new tag and a list the contact already has
    signup = Signup(email="ada.lovelace@example.com", lists=("News",), tags=("vip",))
    resolved = ids(list_ids=[OLD_LIST, NEW_LIST], tag_ids=[NEW_TAG, OLD_TAG])
    # When merged with and without lists
    with_lists = build_merged_put(stored, signup, resolved, update_source="Contact")
    without_lists = build_merged_put(stored, signup, resolved, update_source="Contact", include_lists=False)
    # Then nothing is duplicated, and the unsubscribed-style merge sends no list_memberships at all
    assert with_lists["list_memberships"] == [OLD_LIST, NEW_LIST]
    assert with_lists["taggings"] == [OLD_TAG, NEW_TAG]
    assert "list_memberships" not in without_lists


def test_consent_note_is_added_first_once_and_existing_notes_are_kept(stored: dict[str, Any]) -> None:
    # Given a sign-up with consent evidence
    signup = Signup(email="ada.lovelace@example.com", lists=("News",), consent_evidence=evidence())
    note = build_consent_note(signup)
    assert note is not None
    # When merged once, and again into a record that already holds that note (a redelivery)
    first = build_merged_put(stored, signup, ids(), update_source="Contact", note=note)
    again = build_merged_put({**stored, "notes": first["notes"]}, signup, ids(), update_source="Contact", note=note)
    # Then the note is added before the old one, and not a second time
    assert [n["content"] for n in first["notes"]] == [note["content"], "Met at the fair."]
    assert first["notes"][1] == stored["notes"][0]
    assert len(again["notes"]) == 2


def test_consent_note_says_when_where_and_what() -> None:
    # Given consent evidence with time, source, form, IP and wording
    signup = Signup(
        email="a@example.com",
        lists=("News",),
        consent=Consent.EXPLICIT,
        consent_evidence=evidence(),
        route="newsletter",
    )
    # When the note is built
    note = build_consent_note(signup)
    # Then it carries all of them
    assert note is not None
    assert note["created_at"] == "2026-11-26T09:30:00Z"
    for expected in ("explicit", "2026-11-26T09:30:00Z", "typeform", "'Newsletter'", "203.0.113.9", "Email me news"):
        assert expected in note["content"]


def test_no_consent_note_without_evidence() -> None:
    assert build_consent_note(Signup(email="a@example.com", lists=("News",))) is None


def test_phones_merge_by_kind_and_never_exceed_three() -> None:
    # Given a stored work phone
    stored = [{"phone_number_id": "p1", "phone_number": "+1 555 0100", "kind": "work"}]
    # When a new mobile, a changed work number, the same number again, and a fourth phone arrive
    added = merge_phone_numbers(stored, "+1 555 0199", "mobile")
    replaced = merge_phone_numbers(stored, "+1 555 0111", "work")
    same = merge_phone_numbers(stored, "(1) 555-0100", "mobile")
    full = [{"phone_number": f"+1 555 010{i}", "kind": kind} for i, kind in enumerate(("work", "home", "mobile"))]
    fourth = merge_phone_numbers(full, "+1 555 0999", "other")
    # Then kinds are merged, duplicates skipped, stored phones never dropped to make room
    assert added == [{"phone_number": "+1 555 0100", "kind": "work"}, {"phone_number": "+1 555 0199", "kind": "mobile"}]
    assert replaced == [{"phone_number": "+1 555 0111", "kind": "work"}]
    assert same == [{"phone_number": "+1 555 0100", "kind": "work"}]
    assert fourth == full


def test_addresses_merge_part_by_part_within_a_kind() -> None:
    # Given a stored home address
    stored = [{"street_address_id": "a1", "kind": "home", "street": "1 Old Rd", "city": "Leeds", "country": "UK"}]
    # When a new home street arrives without a city, and a work address arrives
    home = merge_street_addresses(stored, Address(kind="home", street="2 New Rd"))
    work = merge_street_addresses(stored, Address(kind="work", city="York"))
    # Then the street changes, the city and country stay, and the work address is added
    assert home == [{"kind": "home", "street": "2 New Rd", "city": "Leeds", "country": "UK"}]
    assert work[1] == {"kind": "work", "city": "York"}


def test_create_body_is_a_form_sign_up_with_the_given_permission() -> None:
    # Given a new sign-up with a phone, address, tags and evidence
    signup = Signup(
        email="new@example.com",
        first_name="Grace",
        last_name="",
        phone="+1 555 0100",
        address=Address(kind="work", city="Arlington"),
        lists=("News",),
        consent_evidence=evidence(),
    )
    note = build_consent_note(signup)
    # When the POST body is built
    body = build_create_body(signup, "new@example.com", ids(tag_ids=[NEW_TAG]), permission="implicit", note=note)
    # Then it is create_source Contact, without empty values, and only spec properties
    assert body["create_source"] == "Contact"
    assert body["email_address"] == {"address": "new@example.com", "permission_to_send": "implicit"}
    assert "last_name" not in body
    assert body["phone_numbers"] == [{"phone_number": "+1 555 0100", "kind": "mobile"}]
    assert body["street_addresses"] == [{"kind": "work", "city": "Arlington"}]
    assert body["list_memberships"] == [NEW_LIST]
    assert body["taggings"] == [NEW_TAG]
    assert body["notes"] == [note]
    assert set(body) <= POST_PROPERTIES


def test_sign_up_form_body_uses_the_endpoint_shapes_and_no_tags_or_permission() -> None:
    # Given a sign-up with phone, address, birthday, custom field and a tag
    signup = Signup(
        email="Grace@Example.com",
        first_name="Grace",
        phone="+1 555 0100",
        address=Address(street="1 Navy Way"),
        birthday_month=12,
        birthday_day=9,
        lists=("News",),
        tags=("vip",),
        consent=Consent.EXPLICIT,
    )
    # When the sign_up_form body is built
    body = build_sign_up_form_body(signup, "grace@example.com", ids(custom_field_values={CF_SOURCE: "fair"}))
    # Then the email is a plain string, phone and address are single values, and no tags/notes/permission
    assert body["email_address"] == "grace@example.com"
    assert body["phone_number"] == "+1 555 0100"
    assert body["street_address"] == {"kind": "home", "street": "1 Navy Way"}
    assert (body["birthday_month"], body["birthday_day"]) == (12, 9)
    assert body["custom_fields"] == [{"custom_field_id": CF_SOURCE, "value": "fair"}]
    assert set(body) <= SIGN_UP_FORM_PROPERTIES


def test_a_half_birthday_is_never_sent() -> None:
    # Given a form that sent only the month
    signup = Signup(email="a@example.com", birthday_month=4, lists=("News",))
    # When bodies are built
    body = build_create_body(signup, "a@example.com", ids(), permission="implicit", note=None)
    # Then no birthday goes out (the API needs month and day together)
    assert "birthday_month" not in body


def test_more_than_fifty_lists_is_a_permanent_error(stored: dict[str, Any]) -> None:
    # Given a contact on 50 lists and a form adding one more
    full = {**stored, "list_memberships": [f"list-{i}" for i in range(50)]}
    signup = Signup(email="ada.lovelace@example.com", lists=("News",))
    # When merged, Then the policy refuses rather than letting a list drop silently
    with pytest.raises(ValidationError):
        build_merged_put(full, signup, ids(), update_source="Contact")


@pytest.mark.parametrize(
    ("contact", "state"),
    [
        (None, ContactState.NONE),
        ({"email_address": {"permission_to_send": "implicit"}}, ContactState.ACTIVE),
        ({"email_address": {"permission_to_send": "implicit"}, "deleted_at": "2026-01-01"}, ContactState.DELETED),
        ({"email_address": {"permission_to_send": "unsubscribed"}}, ContactState.UNSUBSCRIBED),
        (
            {"email_address": {"permission_to_send": "unsubscribed"}, "deleted_at": "2026-01-01"},
            ContactState.DELETED_UNSUBSCRIBED,
        ),
    ],
)
def test_contact_state_reads_deleted_at_and_permission(contact: dict[str, Any] | None, state: ContactState) -> None:
    assert contact_state(contact) is state
