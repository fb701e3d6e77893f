"""The sandbox's V2 (legacy) API over real HTTP: one account seen through V2 and V3, with V2's own rules."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from local.cc_sandbox import Sandbox
from tests.sandbox_fixtures import v2_session


def v2_body(email: str, *list_ids: str, **extra: Any) -> dict[str, Any]:
    return {"email_addresses": [{"email_address": email}], "lists": [{"id": i} for i in list_ids], **extra}


@pytest.fixture
def sandbox(cc_sandbox_unthrottled: Sandbox) -> Sandbox:
    return cc_sandbox_unthrottled


@pytest.fixture
def v2(sandbox: Sandbox) -> requests.Session:
    return v2_session(sandbox)


def find(v2: requests.Session, sandbox: Sandbox, email: str, **params: str) -> list[dict[str, Any]]:
    answer = v2.get(f"{sandbox.v2_base_url}/contacts", params={"email": email, "status": "ALL", **params})
    assert answer.status_code == 200, answer.text
    results: list[dict[str, Any]] = answer.json()["results"]
    return results


# --- credentials -----------------------------------------------------------------------------------------


def test_missing_or_unknown_api_key_is_403_mashery_not_authorized(sandbox: Sandbox) -> None:
    # Given the V2 token but no api_key, or a wrong one
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {sandbox.v2_access_token}"

    # When we call GET /contacts
    missing = session.get(f"{sandbox.v2_base_url}/contacts", timeout=10)
    wrong = session.get(f"{sandbox.v2_base_url}/contacts", params={"api_key": "nope"}, timeout=10)

    # Then both are 403 with the Mashery error array
    for answer in (missing, wrong):
        assert answer.status_code == 403
        assert answer.json()[0]["error_key"] == "mashery.not.authorized.inactive"


def test_missing_unknown_or_revoked_token_is_401_error_array(sandbox: Sandbox) -> None:
    # Given the right api_key without a token, with an unknown token, and with the V3 access token
    url = f"{sandbox.v2_base_url}/lists"
    no_token = requests.get(url, params={"api_key": sandbox.v2_api_key}, timeout=10)
    unknown = v2_session(sandbox, access_token="not-a-token").get(url)
    v3_token = v2_session(sandbox, access_token=sandbox.issue_tokens()["access_token"]).get(url)
    # And the V2 token, before and after the account owner revokes it
    before = v2_session(sandbox).get(url)
    sandbox.revoke_v2_token()
    after = v2_session(sandbox).get(url)

    # Then every call without a live V2 token is 401 with a V2 error array
    assert before.status_code == 200
    for answer in (no_token, unknown, v3_token, after):
        assert answer.status_code == 401
        assert answer.json() == [{"error_key": "unauthorized", "error_message": "Unauthorized"}]


# --- lookups -----------------------------------------------------------------------------------------------


def test_get_by_email_shows_the_v3_contact_in_v2_shape(sandbox: Sandbox, v2: requests.Session) -> None:
    # Given a contact created through V3 (seeded) on a list, with a home phone and an address
    contact_id = sandbox.seed_contact(
        "Rich@Example.com",
        first_name="Rich",
        company_name="Acme",
        lists=["News"],
        phone_numbers=[{"phone_number": "555-0100", "kind": "home"}],
        street_addresses=[{"kind": "work", "street": "1 Main St", "city": "Boston", "state": "MA"}],
    )

    # When V2 looks it up by email (any case) with include_contact_id
    results = find(v2, sandbox, "rich@example.com", include_contact_id="true")

    # Then it is the same record in V2's shape: numeric id, V3 UUID as contact_id, V2 list id, never-opted-out date
    assert len(results) == 1
    contact = results[0]
    assert contact["id"] == sandbox.v2_contact_id(contact_id) and contact["id"].isdigit()
    assert contact["contact_id"] == contact_id
    assert contact["status"] == "ACTIVE"
    email = contact["email_addresses"][0]
    assert email["email_address"] == "Rich@Example.com"
    assert email["opt_out_date"] == "1969-12-31T19:00:00.000Z"
    assert email["opt_in_source"] == "ACTION_BY_OWNER"
    assert (contact["first_name"], contact["company_name"], contact["home_phone"]) == ("Rich", "Acme", "555-0100")
    assert contact["addresses"][0] | {"id": None} == {
        "id": None,
        "address_type": "BUSINESS",
        "line1": "1 Main St",
        "city": "Boston",
        "state_code": "MA",
    }
    assert contact["lists"] == [{"id": sandbox.v2_list_id(sandbox.list_id("News") or ""), "status": "ACTIVE"}]
    # And by id, without include_contact_id, there is no contact_id
    by_id = v2.get(f"{sandbox.v2_base_url}/contacts/{contact['id']}")
    assert by_id.status_code == 200
    assert "contact_id" not in by_id.json()
    assert by_id.json()["email_addresses"] == contact["email_addresses"]


def test_unknown_contact_id_is_404(sandbox: Sandbox, v2: requests.Session) -> None:
    answer = v2.get(f"{sandbox.v2_base_url}/contacts/999999")
    assert answer.status_code == 404
    assert answer.json()[0]["error_key"] == "http.status.not_found"


def test_contact_deleted_in_the_ui_is_not_found_by_email_and_post_is_409(
    sandbox: Sandbox, v2: requests.Session
) -> None:
    # Given a contact on a list that was deleted in the UI (V3 DELETE)
    contact_id = sandbox.seed_contact("trap@example.com", first_name="Tra", lists=["News"], deleted=True)
    list_v2 = sandbox.v2_list_id(sandbox.list_id("News") or "")

    # When V2 looks it up by email (status ALL) and then POSTs it
    results = find(v2, sandbox, "trap@example.com")
    created = v2.post(f"{sandbox.v2_base_url}/contacts", json=v2_body("trap@example.com", list_v2))

    # Then the lookup is empty and the POST is a 409 V2 error array; the stored contact is unchanged and deleted
    assert results == []
    assert created.status_code == 409
    assert created.json()[0]["error_key"] == "http.status.email_address.conflict"
    stored = sandbox.contact(contact_id)
    assert stored is not None and "deleted_at" in stored and stored["list_memberships"] == []
    assert stored["first_name"] == "Tra"


def test_lookup_filters_by_status_and_pages_with_next_link(sandbox: Sandbox, v2: requests.Session) -> None:
    # Given three active contacts and one on no list
    for name in ("a", "b", "c"):
        sandbox.seed_contact(f"{name}@example.com", lists=["News"])
    sandbox.seed_contact("loose@example.com")

    # When we page through ACTIVE contacts two at a time, and ask for REMOVED ones
    first = v2.get(f"{sandbox.v2_base_url}/contacts", params={"status": "ACTIVE", "limit": "2"}).json()
    next_link = first["meta"]["pagination"]["next_link"]
    second = v2.get(f"{sandbox.root_url}{next_link}").json()
    removed = v2.get(f"{sandbox.v2_base_url}/contacts", params={"status": "REMOVED"}).json()

    # Then the pages hold the three active contacts and the last has no next_link; REMOVED is the list-less one
    emails = [r["email_addresses"][0]["email_address"] for r in first["results"] + second["results"]]
    assert emails == ["a@example.com", "b@example.com", "c@example.com"]
    assert second["meta"] == {"pagination": {}}
    assert [r["email_addresses"][0]["email_address"] for r in removed["results"]] == ["loose@example.com"]
    assert removed["results"][0]["status"] == "REMOVED"


@pytest.mark.parametrize(
    "params",
    [{"status": "active"}, {"limit": "0"}, {"limit": "501"}, {"include_contact_id": "yes"}, {"sort": "email"}],
)
def test_bad_query_parameters_are_400_query_param_invalid(
    sandbox: Sandbox, v2: requests.Session, params: dict[str, str]
) -> None:
    answer = v2.get(f"{sandbox.v2_base_url}/contacts", params=params)
    assert answer.status_code == 400
    assert answer.json()[0]["error_key"] == "query.param.invalid"


def test_lists_are_v3_lists_with_numeric_ids_and_counts(sandbox: Sandbox, v2: requests.Session) -> None:
    # Given two V3 lists, one with an active and an unsubscribed member
    news = sandbox.seed_list("News")
    sandbox.seed_list("Events")
    sandbox.seed_contact("in@example.com", lists=["News"])
    sandbox.seed_contact("out@example.com", lists=["News"], permission_to_send="unsubscribed")

    # When V2 lists them
    answer = v2.get(f"{sandbox.v2_base_url}/lists")

    # Then it is a plain array in creation order, numeric ids that map to the V3 ids, active members counted
    assert answer.status_code == 200
    lists = answer.json()
    assert [(x["id"], x["name"], x["status"], x["contact_count"]) for x in lists] == [
        ("1", "News", "ACTIVE", 1),
        ("2", "Events", "ACTIVE", 0),
    ]
    assert sandbox.v2_list_id(news) == "1"


# --- POST ----------------------------------------------------------------------------------------------------


def test_post_by_visitor_creates_an_explicit_active_contact_seen_by_v3(sandbox: Sandbox, v2: requests.Session) -> None:
    # Given a list
    list_v2 = sandbox.v2_list_id(sandbox.seed_list("News"))

    # When a form sign-up is POSTed with action_by=ACTION_BY_VISITOR and V2-only custom fields
    body = v2_body(
        "new@example.com",
        list_v2,
        first_name="New",
        cell_phone="555-0199",
        custom_fields=[{"name": "CustomField3", "value": "blue"}, {"name": "Colour", "value": "ignored"}],
    )
    created = v2.post(f"{sandbox.v2_base_url}/contacts", params={"action_by": "ACTION_BY_VISITOR"}, json=body)

    # Then V2 answers 201 with the contact ACTIVE, opt-in by the visitor, and only CustomFieldN kept
    assert created.status_code == 201, created.text
    contact = created.json()
    assert contact["status"] == "ACTIVE"
    assert contact["email_addresses"][0]["opt_in_source"] == "ACTION_BY_VISITOR"
    assert contact["custom_fields"] == [{"name": "CustomField3", "value": "blue"}]
    # And V3 sees the same contact: explicit, created by the contact, on the list, with a mobile phone
    stored = sandbox.contact_by_email("new@example.com")
    assert stored is not None
    assert stored["email_address"]["permission_to_send"] == "explicit"
    assert stored["create_source"] == "Contact"
    assert stored["list_memberships"] == [sandbox.list_id("News")]
    assert stored["phone_numbers"][0] | {"phone_number_id": None, "created_at": None, "updated_at": None} == {
        "phone_number_id": None,
        "phone_number": "555-0199",
        "kind": "mobile",
        "created_at": None,
        "updated_at": None,
    }
    # V2 custom fields are not V3 custom fields
    assert stored["custom_fields"] == []
    assert sandbox.v2_contact_id(stored["contact_id"]) == contact["id"]


def test_post_by_owner_is_the_default_and_creates_implicit(sandbox: Sandbox, v2: requests.Session) -> None:
    list_v2 = sandbox.v2_list_id(sandbox.seed_list("News"))

    created = v2.post(f"{sandbox.v2_base_url}/contacts", json=v2_body("owner@example.com", list_v2))

    assert created.status_code == 201
    assert created.json()["email_addresses"][0]["opt_in_source"] == "ACTION_BY_OWNER"
    stored = sandbox.contact_by_email("owner@example.com")
    assert stored is not None
    assert (stored["email_address"]["permission_to_send"], stored["create_source"]) == ("implicit", "Account")


def test_post_existing_email_is_409_and_changes_nothing(sandbox: Sandbox, v2: requests.Session) -> None:
    sandbox.seed_contact("here@example.com", first_name="Kept", lists=["News"])
    list_v2 = sandbox.v2_list_id(sandbox.list_id("News") or "")

    answer = v2.post(f"{sandbox.v2_base_url}/contacts", json=v2_body("HERE@example.com", list_v2, first_name="X"))

    assert answer.status_code == 409
    stored = sandbox.contact_by_email("here@example.com")
    assert stored is not None and stored["first_name"] == "Kept"


def test_post_unknown_list_id_is_400_and_creates_nothing(sandbox: Sandbox, v2: requests.Session) -> None:
    answer = v2.post(f"{sandbox.v2_base_url}/contacts", json=v2_body("nolist@example.com", "77"))

    assert answer.status_code == 400
    assert answer.json()[0]["error_key"] == "json.field.lists.value.invalid"
    assert sandbox.contact_by_email("nolist@example.com") is None


# --- PUT -----------------------------------------------------------------------------------------------------


def test_put_overwrites_every_v2_property_and_blanks_what_it_omits(sandbox: Sandbox, v2: requests.Session) -> None:
    # Given a rich contact, written through V2 (names, phones, address, V2 custom field, note, two lists)
    news, events = (sandbox.v2_list_id(sandbox.seed_list(n)) for n in ("News", "Events"))
    rich = v2_body(
        "rich@example.com",
        news,
        events,
        first_name="Rich",
        last_name="Person",
        job_title="CEO",
        company_name="Acme",
        home_phone="555-0101",
        work_phone="555-0102",
        fax="555-0103",
        addresses=[{"line1": "1 Main St", "city": "Boston", "address_type": "PERSONAL", "state_code": "MA"}],
        custom_fields=[{"name": "CustomField1", "value": "gold"}],
        notes=[{"note": "VIP"}],
    )
    v2_id = v2.post(f"{sandbox.v2_base_url}/contacts", json=rich).json()["id"]

    # When it is PUT back with only the email, a first name and one list
    answer = v2.put(
        f"{sandbox.v2_base_url}/contacts/{v2_id}", json=v2_body("rich@example.com", events, first_name="Richard")
    )

    # Then V2 shows only what was sent
    assert answer.status_code == 200, answer.text
    contact = answer.json()
    for gone in ("last_name", "job_title", "company_name", "home_phone", "work_phone", "fax"):
        assert gone not in contact
    assert (contact["addresses"], contact["custom_fields"], contact["notes"]) == ([], [], [])
    assert contact["lists"] == [{"id": events, "status": "ACTIVE"}]
    # And V3 sees the same blanks
    stored = sandbox.contact_by_email("rich@example.com")
    assert stored is not None
    assert stored["first_name"] == "Richard"
    assert not {"last_name", "job_title", "company_name"} & set(stored)
    assert (stored["phone_numbers"], stored["street_addresses"], stored["notes"]) == ([], [], [])
    assert stored["list_memberships"] == [sandbox.list_id("Events")]


def test_put_with_empty_lists_leaves_the_contact_removed(sandbox: Sandbox, v2: requests.Session) -> None:
    contact_id = sandbox.seed_contact("leaving@example.com", lists=["News"])
    v2_id = sandbox.v2_contact_id(contact_id)

    answer = v2.put(f"{sandbox.v2_base_url}/contacts/{v2_id}", json=v2_body("leaving@example.com"))

    assert answer.status_code == 200
    assert answer.json()["status"] == "REMOVED"
    stored = sandbox.contact(contact_id)
    assert stored is not None and stored["list_memberships"] == [] and "deleted_at" not in stored
    assert [r["id"] for r in find(v2, sandbox, "leaving@example.com", status="REMOVED")] == [v2_id]
