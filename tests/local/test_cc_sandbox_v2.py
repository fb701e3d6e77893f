"""The sandbox's V2 (legacy) API over real HTTP: one account seen through V2 and V3, with V2's own rules."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import requests

from local.cc_sandbox import Sandbox
from local.fault_proxy import LOST_ANSWER, FaultProxy
from tests.sandbox_fixtures import sandbox_cli, v2_session


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


def v3_lists(sandbox: Sandbox) -> list[dict[str, Any]]:
    """The account's lists as V3 answers them over HTTP."""
    answer = requests.get(
        f"{sandbox.base_url}/contact_lists",
        headers={"Authorization": f"Bearer {sandbox.issue_tokens()['access_token']}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    lists: list[dict[str, Any]] = answer.json()["lists"]
    return lists


def test_post_list_creates_the_list_v3_sees_with_the_next_numeric_id(sandbox: Sandbox, v2: requests.Session) -> None:
    # Given an account with one list
    sandbox.seed_list("News")

    # When V2 creates an active and a hidden list
    active = v2.post(f"{sandbox.v2_base_url}/lists", json={"name": "Hot Opportunities", "status": "ACTIVE"})
    hidden = v2.post(f"{sandbox.v2_base_url}/lists", json={"name": "Staff", "status": "HIDDEN"})

    # Then each is 201 with the V2 list, numbered after the existing one
    assert active.status_code == 201, active.text
    assert {k: active.json()[k] for k in ("id", "name", "status", "contact_count")} == {
        "id": "2",
        "name": "Hot Opportunities",
        "status": "ACTIVE",
        "contact_count": 0,
    }
    assert (hidden.status_code, hidden.json()["id"], hidden.json()["status"]) == (201, "3", "HIDDEN")
    # And V3 sees the same lists, and V2's ids map to their V3 ids
    by_name = {x["name"]: x["list_id"] for x in v3_lists(sandbox)}
    assert set(by_name) == {"News", "Hot Opportunities", "Staff"}
    assert sandbox.v2_list_id(by_name["Hot Opportunities"]) == "2"
    assert sandbox.v2_list_id(by_name["Staff"]) == "3"
    # And V2 reads them back as created, the hidden one still hidden
    listed = v2.get(f"{sandbox.v2_base_url}/lists").json()
    assert [(x["id"], x["name"], x["status"]) for x in listed] == [
        ("1", "News", "ACTIVE"),
        ("2", "Hot Opportunities", "ACTIVE"),
        ("3", "Staff", "HIDDEN"),
    ]
    # And a contact can be put on the V2-created list, which V3 shows as a membership
    created = v2.post(f"{sandbox.v2_base_url}/contacts", json=v2_body("new@example.com", "2"))
    assert created.status_code == 201, created.text
    (contact,) = sandbox.all_contacts()
    assert contact["list_memberships"] == [by_name["Hot Opportunities"]]


@pytest.mark.parametrize("taken", ["News", "news", "NEWS"])
def test_post_list_with_a_name_in_use_is_409_and_creates_nothing(
    sandbox: Sandbox, v2: requests.Session, taken: str
) -> None:
    sandbox.seed_list("News")

    answer = v2.post(f"{sandbox.v2_base_url}/lists", json={"name": taken, "status": "ACTIVE"})

    assert answer.status_code == 409, answer.text
    (error,) = answer.json()
    assert error["error_key"] == "http.status.conflict"
    assert taken in error["error_message"]
    assert [x["name"] for x in v3_lists(sandbox)] == ["News"]


@pytest.mark.parametrize(
    ("body", "error_key"),
    [
        ({"status": "ACTIVE"}, "json.field.name.value.invalid"),
        ({"name": None, "status": "ACTIVE"}, "json.field.name.value.invalid"),
        ({"name": "   ", "status": "ACTIVE"}, "json.field.name.value.invalid"),
        ({"name": 7, "status": "ACTIVE"}, "json.type.invalid"),
        ({"name": "x" * 256, "status": "ACTIVE"}, "json.max.length.violation"),
        ({"name": "News"}, "json.field.status.value.invalid"),
        ({"name": "News", "status": "active"}, "json.field.status.value.invalid"),
        ({"name": "News", "status": "REMOVED"}, "json.field.status.value.invalid"),
        ({"name": "News", "status": "ACTIVE", "favorite": True}, "json.field.invalid"),
        (["News"], "json.type.invalid"),
    ],
)
def test_invalid_list_bodies_are_400_with_the_v2_error_key_and_create_nothing(
    sandbox: Sandbox, v2: requests.Session, body: Any, error_key: str
) -> None:
    answer = v2.post(f"{sandbox.v2_base_url}/lists", json=body)

    assert answer.status_code == 400, answer.text
    assert answer.json()[0]["error_key"] == error_key
    assert answer.json()[0]["error_message"].startswith("#")
    assert v3_lists(sandbox) == []


def test_post_list_name_of_the_maximum_length_is_kept_whole(sandbox: Sandbox, v2: requests.Session) -> None:
    name = "n" * 255

    answer = v2.post(f"{sandbox.v2_base_url}/lists", json={"name": name, "status": "ACTIVE"})

    assert answer.status_code == 201, answer.text
    assert [x["name"] for x in v3_lists(sandbox)] == [name]


def test_post_list_format_errors_and_query_parameters(sandbox: Sandbox, v2: requests.Session) -> None:
    url = f"{sandbox.v2_base_url}/lists"

    malformed = v2.post(url, data=b"{not json", headers={"Content-Type": "application/json"})
    text = v2.post(url, data=b'{"name": "A", "status": "ACTIVE"}', headers={"Content-Type": "text/plain"})
    unknown_param = v2.post(url, params={"action_by": "ACTION_BY_OWNER"}, json={"name": "A", "status": "ACTIVE"})

    assert (malformed.status_code, malformed.json()[0]["error_key"]) == (400, "http.status.bad_request")
    assert text.status_code == 415
    assert (unknown_param.status_code, unknown_param.json()[0]["error_key"]) == (400, "query.param.invalid")
    assert v3_lists(sandbox) == []


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


# --- OPTOUT, DELETE and contacts deleted in the UI -------------------------------------------------------------


def test_optout_contact_comes_back_only_by_visitor_put_and_v3_sees_it(sandbox: Sandbox, v2: requests.Session) -> None:
    # Given a contact who unsubscribed themselves, on a list
    contact_id = sandbox.seed_contact("gone@example.com", lists=["News"], permission_to_send="unsubscribed")
    v2_id = sandbox.v2_contact_id(contact_id)
    list_v2 = sandbox.v2_list_id(sandbox.list_id("News") or "")
    assert find(v2, sandbox, "gone@example.com")[0]["status"] == "OPTOUT"
    url = f"{sandbox.v2_base_url}/contacts/{v2_id}"

    # When the owner PUTs it back (default action_by, and explicitly), then the visitor does
    default_owner = v2.put(url, json=v2_body("gone@example.com", list_v2))
    owner = v2.put(url, params={"action_by": "ACTION_BY_OWNER"}, json=v2_body("gone@example.com", list_v2))
    still_out = sandbox.contact(contact_id)
    visitor = v2.put(url, params={"action_by": "ACTION_BY_VISITOR"}, json=v2_body("gone@example.com", list_v2))

    # Then the owner gets 400 and nothing changes; the visitor's PUT makes it ACTIVE, explicit through V3 too
    for refused in (default_owner, owner):
        assert refused.status_code == 400
        assert refused.json()[0]["error_key"] == "http.status.bad_request"
    assert still_out is not None and still_out["email_address"]["permission_to_send"] == "unsubscribed"
    assert visitor.status_code == 200, visitor.text
    assert visitor.json()["status"] == "ACTIVE"
    assert visitor.json()["email_addresses"][0]["opt_out_date"] == "1969-12-31T19:00:00.000Z"
    stored = sandbox.contact(contact_id)
    assert stored is not None
    assert stored["email_address"]["permission_to_send"] == "explicit"
    assert stored["update_source"] == "Contact"
    assert "opt_out_source" not in stored["email_address"]


def test_delete_opts_the_contact_out_and_never_deletes_it(sandbox: Sandbox, v2: requests.Session) -> None:
    # Given an active contact
    contact_id = sandbox.seed_contact("bye@example.com", first_name="Bye", lists=["News"])
    url = f"{sandbox.v2_base_url}/contacts/{sandbox.v2_contact_id(contact_id)}"

    # When V2 DELETEs it (twice)
    first, second = v2.delete(url), v2.delete(url)

    # Then both answer 204, V2 shows it OPTOUT with an opt-out date, V3 unsubscribed by the account, not deleted
    assert (first.status_code, second.status_code) == (204, 204)
    assert first.content == b""
    contact = v2.get(url).json()
    assert contact["status"] == "OPTOUT"
    assert contact["email_addresses"][0]["opt_out_date"] != "1969-12-31T19:00:00.000Z"
    stored = sandbox.contact(contact_id)
    assert stored is not None and "deleted_at" not in stored
    assert stored["email_address"]["permission_to_send"] == "unsubscribed"
    assert stored["email_address"]["opt_out_source"] == "Account"
    assert stored["first_name"] == "Bye"


def test_contact_deleted_in_the_ui_reads_removed_by_id_and_a_put_with_lists_brings_it_back(
    sandbox: Sandbox, v2: requests.Session
) -> None:
    # Given a contact deleted in the UI, whose V2 id the caller knows
    contact_id = sandbox.seed_contact("back@example.com", first_name="Old", lists=["News"], deleted=True)
    url = f"{sandbox.v2_base_url}/contacts/{sandbox.v2_contact_id(contact_id)}"
    list_v2 = sandbox.v2_list_id(sandbox.list_id("News") or "")

    # When V2 reads it by id, then PUTs it with a list
    before = v2.get(url).json()
    put = v2.put(url, params={"action_by": "ACTION_BY_VISITOR"}, json=v2_body("back@example.com", list_v2))

    # Then it read REMOVED with no lists; after the PUT it is on the list, not deleted, and found by email again
    assert (before["status"], before["lists"]) == ("REMOVED", [])
    assert put.status_code == 200 and put.json()["status"] == "ACTIVE"
    stored = sandbox.contact(contact_id)
    assert stored is not None and "deleted_at" not in stored
    assert stored["list_memberships"] == [sandbox.list_id("News")]
    assert [r["id"] for r in find(v2, sandbox, "back@example.com")] == [before["id"]]


def test_put_leaves_what_v2_cannot_see_and_keeps_v3_custom_fields_apart(sandbox: Sandbox, v2: requests.Session) -> None:
    # Given a V3 contact with a birthday, a V3 custom field and a tag
    contact_id = sandbox.seed_contact(
        "both@example.com",
        lists=["News"],
        birthday_month=5,
        birthday_day=4,
        custom_fields={"Colour": "red"},
        tags=["vip"],
    )
    list_v2 = sandbox.v2_list_id(sandbox.list_id("News") or "")
    url = f"{sandbox.v2_base_url}/contacts/{sandbox.v2_contact_id(contact_id)}"

    # When V2 reads it and PUTs it with a V2 custom field
    read = v2.get(url).json()
    body = v2_body("both@example.com", list_v2, custom_fields=[{"name": "CustomField15", "value": "v2 only"}])
    put = v2.put(url, json=body)

    # Then V2 never showed the V3 custom field, and V3 keeps its custom field, birthday and tag, without V2's
    assert read["custom_fields"] == []
    assert put.status_code == 200
    assert put.json()["custom_fields"] == [{"name": "CustomField15", "value": "v2 only"}]
    stored = sandbox.contact(contact_id)
    assert stored is not None
    assert [f["value"] for f in stored["custom_fields"]] == ["red"]
    assert (stored["birthday_month"], stored["birthday_day"], len(stored["taggings"])) == (5, 4, 1)


def test_put_round_trip_of_a_get_changes_nothing_v2_shows(sandbox: Sandbox, v2: requests.Session) -> None:
    # Given a rich V2 contact
    list_v2 = sandbox.v2_list_id(sandbox.seed_list("News"))
    body = v2_body(
        "trip@example.com",
        list_v2,
        prefix_name="Dr.",
        first_name="Tri",
        fax="555-0109",
        addresses=[
            {"line1": "1 Main", "line2": "Apt 2", "address_type": "PERSONAL", "postal_code": "02110"},
            {"line1": "9 Work Rd", "address_type": "BUSINESS", "country_code": "us", "sub_postal_code": "1234"},
        ],
        custom_fields=[{"name": "CustomField2", "value": "x"}],
        notes=[{"note": "first"}, {"note": "second"}],
    )
    created = v2.post(f"{sandbox.v2_base_url}/contacts", json=body).json()

    # When the GET answer is PUT back as it is
    url = f"{sandbox.v2_base_url}/contacts/{created['id']}"
    got = v2.get(url).json()
    put = v2.put(url, json=got)

    # Then everything V2 shows is unchanged (ids of notes and the modified date aside); one note was kept
    assert put.status_code == 200, put.text

    def comparable(contact: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in contact.items() if k not in ("modified_date", "notes")}

    assert comparable(put.json()) == comparable(got) == comparable(created)
    assert [n["note"] for n in put.json()["notes"]] == ["first"]


# --- validation ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "error_key"),
    [
        ({"email_addresses": [{"email_address": "not-an-email"}]}, "json.regex.mismatch"),
        ({"email_addresses": []}, "json.field.email_addresses.value.invalid"),
        ({"first_name": 7}, "json.type.invalid"),
        ({"lists": {"id": "1"}}, "json.type.invalid"),
        ({"company_name": "x" * 51}, "json.max.length.violation"),
        ({"cell_phone": "5" * 51}, "json.max.length.violation"),
        ({"custom_fields": [{"name": "CustomField1", "value": "v" * 51}]}, "json.max.length.violation"),
        ({"birthday_month": 5}, "json.field.invalid"),
        ({"addresses": [{"line1": "a", "address_type": "HOME"}]}, "json.field.addresses.value.invalid"),
        (
            {"addresses": [{"line1": "a", "address_type": "PERSONAL"}, {"line1": "b", "address_type": "PERSONAL"}]},
            "json.field.addresses.value.invalid",
        ),
        ({"lists": []}, "json.field.lists.value.invalid"),
        ({"lists": [{"id": "999"}]}, "json.field.lists.value.invalid"),
    ],
)
def test_invalid_post_bodies_are_400_with_the_v2_error_key_and_create_nothing(
    sandbox: Sandbox, v2: requests.Session, change: dict[str, Any], error_key: str
) -> None:
    list_v2 = sandbox.v2_list_id(sandbox.seed_list("News"))
    body = v2_body("valid@example.com", list_v2) | change

    answer = v2.post(f"{sandbox.v2_base_url}/contacts", json=body)

    assert answer.status_code == 400, answer.text
    assert answer.json()[0]["error_key"] == error_key
    assert answer.json()[0]["error_message"].startswith("#")
    assert sandbox.all_contacts() == []


def test_body_format_errors(sandbox: Sandbox, v2: requests.Session) -> None:
    url = f"{sandbox.v2_base_url}/contacts"

    malformed = v2.post(url, data=b"{not json", headers={"Content-Type": "application/json"})
    text = v2.post(url, data=b"{}", headers={"Content-Type": "text/plain"})
    bad_action = v2.post(url, params={"action_by": "ACTION_BY_ROBOT"}, json=v2_body("a@example.com"))
    wrong_method = v2.patch(url, json={})

    assert (malformed.status_code, malformed.json()[0]["error_key"]) == (400, "http.status.bad_request")
    assert text.status_code == 415
    assert (bad_action.status_code, bad_action.json()[0]["error_key"]) == (400, "query.param.invalid")
    assert wrong_method.status_code == 405
    assert sandbox.all_contacts() == []


# --- limits, faults, request log -------------------------------------------------------------------------------


def test_over_qps_is_403_and_v2_counts_apart_from_v3(cc_sandbox: Sandbox) -> None:
    # Given the real limits on a frozen clock
    sandbox = cc_sandbox
    sandbox.clock.freeze()
    v2 = v2_session(sandbox)
    url = f"{sandbox.v2_base_url}/lists"

    # When V2 is called 5 times within one second, then V3 once, then V2 again a second later
    answers = [v2.get(url) for _ in range(5)]
    v3 = requests.get(
        f"{sandbox.base_url}/contact_lists",
        headers={"Authorization": f"Bearer {sandbox.issue_tokens()['access_token']}"},
        timeout=10,
    )
    sandbox.clock.advance(1.0)
    later = v2.get(url)

    # Then the 5th V2 call is 403 over.qps (not 429), V3 is not throttled by V2's calls, and the window moves on
    assert [a.status_code for a in answers] == [200, 200, 200, 200, 403]
    assert answers[-1].json() == [{"error_key": "over.qps", "error_message": "Account Over Queries Per Second Limit"}]
    assert v3.status_code == 200
    assert later.status_code == 200


def test_over_ratelimit_is_403_until_midnight_utc_and_counts_per_key() -> None:
    # Given a V2 daily quota of 2 on a frozen clock, and a second V2 app
    with Sandbox(rate_limit_per_second=0, v2_daily_quota=2) as sandbox:
        sandbox.clock.freeze()
        other_key, other_token = sandbox.add_v2_api_key()
        url = f"{sandbox.v2_base_url}/lists"

        # When the first key makes 3 calls, the other key 1, and the first again the next UTC day
        answers = [v2_session(sandbox).get(url) for _ in range(3)]
        other = v2_session(sandbox, access_token=other_token, api_key=other_key).get(url)
        seconds_to_midnight = 86400 - sandbox.clock.time() % 86400
        sandbox.clock.advance(seconds_to_midnight + 1)
        tomorrow = v2_session(sandbox).get(url)

        # Then the third is 403 over.ratelimit, the other key is not affected, and the quota resets at 00:00 UTC
        assert [a.status_code for a in answers] == [200, 200, 403]
        assert answers[-1].json()[0]["error_key"] == "over.ratelimit"
        assert other.status_code == 200
        assert tomorrow.status_code == 200
        assert sandbox.v2_quota_used() == 1


def test_post_list_counts_toward_the_keys_limits_and_a_refused_one_creates_nothing() -> None:
    # Given the real per-second limit on a clock frozen at noon UTC, and a daily quota of 5
    with Sandbox(v2_daily_quota=5) as sandbox:
        sandbox.clock.freeze()
        sandbox.clock.advance((43200 - sandbox.clock.time() % 86400) % 86400)
        v2 = v2_session(sandbox)
        url = f"{sandbox.v2_base_url}/lists"

        # When V2 creates 5 lists within one second, then 2 more a second later
        burst = [v2.post(url, json={"name": f"L{i}", "status": "ACTIVE"}) for i in range(5)]
        sandbox.clock.advance(1.0)
        later = [v2.post(url, json={"name": f"M{i}", "status": "ACTIVE"}) for i in range(2)]

        # Then the 5th is 403 over.qps (not counted for the day) and the 7th 403 over.ratelimit; only the 201s exist
        assert [a.status_code for a in burst + later] == [201, 201, 201, 201, 403, 201, 403]
        assert burst[-1].json()[0]["error_key"] == "over.qps"
        assert later[-1].json()[0]["error_key"] == "over.ratelimit"
        assert [x["name"] for x in v3_lists(sandbox)] == ["L0", "L1", "L2", "L3", "M0"]


def test_injected_faults_apply_to_v2_with_a_v2_error_array(sandbox: Sandbox, v2: requests.Session) -> None:
    # Given a 503 injected on the next V2 contacts call
    list_v2 = sandbox.v2_list_id(sandbox.seed_list("News"))
    sandbox.inject_faults(503, count=1, path_prefix="/v2/contacts", method="POST")

    # When the same POST is sent twice
    first = v2.post(f"{sandbox.v2_base_url}/contacts", json=v2_body("flaky@example.com", list_v2))
    second = v2.post(f"{sandbox.v2_base_url}/contacts", json=v2_body("flaky@example.com", list_v2))

    # Then the first is the injected 503 (nothing written) and the second creates the contact
    assert first.status_code == 503
    assert first.json()[0]["error_key"] == "http.status.service_unavailable"
    assert second.status_code == 201
    assert sandbox.contact_by_email("flaky@example.com") is not None


def test_a_lost_answer_through_the_fault_proxy_leaves_the_contact_created(
    sandbox: Sandbox, v2: requests.Session
) -> None:
    # Given a proxy that loses every answer after forwarding the request
    list_v2 = sandbox.v2_list_id(sandbox.seed_list("News"))
    # When a V2 POST goes through it, and is retried directly
    with (
        FaultProxy(sandbox.root_url, rate=1.0, kinds=(LOST_ANSWER,)) as proxy,
        pytest.raises(requests.ConnectionError),
    ):
        v2.post(proxy.proxied(sandbox.v2_base_url) + "/contacts", json=v2_body("lost@example.com", list_v2))
    retry = v2.post(f"{sandbox.v2_base_url}/contacts", json=v2_body("lost@example.com", list_v2))

    # Then the first POST was applied and the retry meets the 409 of an existing email
    assert sandbox.contact_by_email("lost@example.com") is not None
    assert retry.status_code == 409


def test_v2_calls_are_in_the_request_log(sandbox: Sandbox, v2: requests.Session) -> None:
    sandbox.clear_request_log()

    v2.get(f"{sandbox.v2_base_url}/contacts", params={"email": "x@example.com"})
    requests.get(f"{sandbox.v2_base_url}/lists", timeout=10)
    v2.post(f"{sandbox.v2_base_url}/lists", json={"name": "News", "status": "ACTIVE"})

    log = sandbox.request_log
    assert [(r["method"], r["path"], r["status"], r["client_id"]) for r in log] == [
        ("GET", "/v2/contacts", 200, sandbox.v2_api_key),
        ("GET", "/v2/lists", 403, None),
        ("POST", "/v2/lists", 201, sandbox.v2_api_key),
    ]
    assert "email=x%40example.com" in log[0]["query"]


def test_the_cli_prints_working_v2_credentials() -> None:
    # Given the sandbox started as `python -m local.cc_sandbox` with a list
    with sandbox_cli("--seed-list", "News") as info:
        # When the printed V2 key and token are used against the printed V2 base URL
        session = requests.Session()
        session.params = {"api_key": info["v2_api_key"]}
        session.headers["Authorization"] = f"Bearer {info['v2_access_token']}"
        answer = session.get(f"{info['v2_base_url']}/lists", timeout=10)

        # Then V2 answers with the seeded list
        assert answer.status_code == 200
        assert [x["name"] for x in answer.json()] == ["News"]


def test_seeded_v2_only_properties_are_blanked_by_a_put_that_omits_them(sandbox: Sandbox, v2: requests.Session) -> None:
    # Given a contact seeded by V2's rules with V2-only properties (fax, prefix, CustomFieldN)
    list_v2 = sandbox.v2_list_id(sandbox.seed_list("News"))
    extra = {"fax": "555-0110", "prefix_name": "Ms.", "custom_fields": [{"name": "CustomField7", "value": "seven"}]}
    v2_id = sandbox.seed_v2_contact(v2_body("seeded@example.com", list_v2, **extra), action_by="ACTION_BY_VISITOR")
    before = sandbox.v2_contact(v2_id)

    # When a PUT carries only the email and the list
    put = v2.put(f"{sandbox.v2_base_url}/contacts/{v2_id}", json=v2_body("seeded@example.com", list_v2))

    # Then the V2-only properties were there and are gone
    assert (before["fax"], before["prefix_name"], before["custom_fields"]) == (
        "555-0110",
        "Ms.",
        [{"name": "CustomField7", "value": "seven"}],
    )
    assert before["email_addresses"][0]["opt_in_source"] == "ACTION_BY_VISITOR"
    assert put.status_code == 200
    after = sandbox.v2_contact(v2_id)
    assert "fax" not in after and "prefix_name" not in after and after["custom_fields"] == []
    assert after["contact_id"] == before["contact_id"]


def test_v3_cross_references_map_v2_ids_to_v3_ids(sandbox: Sandbox, v2: requests.Session) -> None:
    # Given a contact on a list, and their V2 ids as V2 shows them
    contact_id = sandbox.seed_contact("xref@example.com", lists=["News"])
    shown = find(v2, sandbox, "xref@example.com")[0]
    v3 = requests.Session()
    v3.headers["Authorization"] = f"Bearer {sandbox.issue_tokens()['access_token']}"

    # When V3's cross-reference endpoints are asked for them (and for an unknown id)
    contacts = v3.get(f"{sandbox.base_url}/contacts/contact_id_xrefs", params={"sequence_ids": f"{shown['id']},42"})
    lists = v3.get(f"{sandbox.base_url}/contact_lists/list_id_xrefs", params={"sequence_ids": shown["lists"][0]["id"]})
    missing = v3.get(f"{sandbox.base_url}/contact_lists/list_id_xrefs")

    # Then they give the V3 ids, leave unknown ids out, and require sequence_ids
    assert contacts.json() == {"xrefs": [{"sequence_id": shown["id"], "contact_id": contact_id}]}
    assert lists.json() == {"xrefs": [{"sequence_id": shown["lists"][0]["id"], "list_id": sandbox.list_id("News")}]}
    assert missing.status_code == 400


def test_seed_contact_takes_v2_only_properties_and_checks_them(sandbox: Sandbox, v2: requests.Session) -> None:
    # Given a V3 seed with V2-only properties (as a LOCAL_SANDBOX_SEED contact may carry them)
    v2_only = {"fax": "555-0111", "custom_fields": [{"name": "CustomField2", "value": "two"}]}
    contact_id = sandbox.seed_contact("both@example.com", first_name="Bo", lists=["News"], v2=v2_only)

    # When V2 reads it
    contact = find(v2, sandbox, "both@example.com")[0]

    # Then V2 shows the V2-only properties next to the V3 ones; a property V2 does not have is refused
    assert (contact["fax"], contact["first_name"]) == ("555-0111", "Bo")
    assert contact["custom_fields"] == [{"name": "CustomField2", "value": "two"}]
    assert contact["id"] == sandbox.v2_contact_id(contact_id)
    with pytest.raises(ValueError, match="birthday"):
        sandbox.seed_contact("other@example.com", v2={"birthday": "1/1"})
    with pytest.raises(ValueError, match="max.length"):
        sandbox.seed_contact("third@example.com", v2={"fax": "5" * 51})
    assert [c["email_address"]["address"] for c in sandbox.all_contacts()] == ["both@example.com"]


def test_more_than_fifty_lists_is_400(sandbox: Sandbox, v2: requests.Session) -> None:
    list_ids = [sandbox.v2_list_id(sandbox.seed_list(f"List {n}")) for n in range(51)]

    answer = v2.post(f"{sandbox.v2_base_url}/contacts", json=v2_body("many@example.com", *list_ids))

    assert answer.status_code == 400
    assert answer.json()[0]["error_key"] == "json.field.lists.value.invalid"
    assert sandbox.contact_by_email("many@example.com") is None


def test_visitor_post_with_confirmed_opt_in_is_unconfirmed(sandbox: Sandbox, v2: requests.Session) -> None:
    sandbox.confirmed_opt_in = True
    list_v2 = sandbox.v2_list_id(sandbox.seed_list("News"))

    created = v2.post(
        f"{sandbox.v2_base_url}/contacts",
        params={"action_by": "ACTION_BY_VISITOR"},
        json=v2_body("pending@example.com", list_v2),
    )

    assert created.status_code == 201
    assert created.json()["status"] == "UNCONFIRMED"
    assert created.json()["email_addresses"][0]["confirm_status"] == "UNCONFIRMED"
    assert [r["id"] for r in find(v2, sandbox, "pending@example.com", status="UNCONFIRMED")] == [created.json()["id"]]
    stored = sandbox.contact_by_email("pending@example.com")
    assert stored is not None and stored["email_address"]["permission_to_send"] == "pending_confirmation"


def test_modified_since_returns_only_contacts_changed_since(sandbox: Sandbox, v2: requests.Session) -> None:
    # Given two contacts, one changed through V2 an hour after both were created
    sandbox.clock.freeze()
    sandbox.seed_contact("old@example.com", lists=["News"])
    changed_id = sandbox.seed_contact("changed@example.com", lists=["News"])
    sandbox.clock.advance(3600)
    list_v2 = sandbox.v2_list_id(sandbox.list_id("News") or "")
    url = f"{sandbox.v2_base_url}/contacts/{sandbox.v2_contact_id(changed_id)}"
    assert v2.put(url, json=v2_body("changed@example.com", list_v2, first_name="New")).status_code == 200

    # When V2 asks for contacts modified in the last 30 minutes
    stamp = (sandbox.clock.now() - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    answer = v2.get(f"{sandbox.v2_base_url}/contacts", params={"modified_since": stamp})

    # Then only the changed one comes back
    assert [r["email_addresses"][0]["email_address"] for r in answer.json()["results"]] == ["changed@example.com"]
