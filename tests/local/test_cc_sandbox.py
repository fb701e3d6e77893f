"""The Constant Contact sandbox over real HTTP: the documented V3 behaviours the engine relies on, and OAuth."""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from local.cc_sandbox import Sandbox, pkce_challenge
from tests.sandbox_fixtures import sandbox_cli

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def bearer(access_token: str) -> requests.Session:
    """A session that sends this access token as a bearer token."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {access_token}"
    return session


def api(sandbox: Sandbox, access_token: str | None = None) -> requests.Session:
    """A session for the sandbox's V3 API, with a fresh grant's access token unless one is given."""
    return bearer(access_token or sandbox.issue_tokens()["access_token"])


def token_call(sandbox: Sandbox, data: dict[str, str], *, basic: bool = True) -> requests.Response:
    auth = (sandbox.client_id, sandbox.client_secret) if basic else None
    return requests.post(sandbox.token_url, data=data, auth=auth, timeout=10)


def new_contact_body(email: str, **extra: Any) -> dict[str, Any]:
    return {"email_address": {"address": email, "permission_to_send": "implicit"}, "create_source": "Contact", **extra}


@pytest.fixture
def sandbox(cc_sandbox_unthrottled: Sandbox) -> Sandbox:
    return cc_sandbox_unthrottled


@pytest.fixture
def cc(sandbox: Sandbox) -> requests.Session:
    return api(sandbox)


@pytest.fixture
def short_lived_sandbox() -> Iterator[Sandbox]:
    """Tokens that live 2 s, on a frozen clock that only moves when the test advances it."""
    with Sandbox(rate_limit_per_second=0, access_token_ttl=2) as sandbox:
        sandbox.clock.freeze()
        yield sandbox


# --- the deleted-contact 409 trap ------------------------------------------------------------------------


def test_deleted_contact_is_hidden_by_default_listed_with_status_all_and_blocks_post(
    sandbox: Sandbox, cc: requests.Session
) -> None:
    # Given a contact on a list that was deleted (as in the UI)
    contact_id = sandbox.seed_contact("trap@example.com", first_name="Tra", lists=["Newsletter"])
    sandbox.delete_contact(contact_id)

    # When we look it up the default way, with status=all, and then try to create it again
    default = cc.get(f"{sandbox.base_url}/contacts", params={"email": "trap@example.com"})
    everything = cc.get(
        f"{sandbox.base_url}/contacts",
        params={"email": "TRAP@example.com", "status": "all", "include": "list_memberships"},
    )
    created = cc.post(f"{sandbox.base_url}/contacts", json=new_contact_body("trap@example.com"))

    # Then the default search shows nothing, status=all shows it deleted and list-less, and POST is a 409
    assert default.status_code == 200 and default.json()["contacts"] == []
    [found] = everything.json()["contacts"]
    assert found["contact_id"] == contact_id
    assert found["deleted_at"] and found["list_memberships"] == []
    assert created.status_code == 409
    assert created.json() == [
        {
            "error_key": "contacts.api.conflict",
            "error_message": f"Validation failed: Email already exists for contact {contact_id}",
        }
    ]


def test_deleted_contact_is_still_retrievable_by_id_and_keeps_its_permission(
    sandbox: Sandbox, cc: requests.Session
) -> None:
    # Given an explicit contact on a list, then deleted
    contact_id = sandbox.seed_contact("kept@example.com", permission_to_send="explicit", lists=["A"])
    deleted = cc.delete(f"{sandbox.base_url}/contacts/{contact_id}")

    # When we GET it by id with its lists
    response = cc.get(f"{sandbox.base_url}/contacts/{contact_id}", params={"include": "list_memberships"})

    # Then the delete was a 204 soft delete: deleted_at set, lists empty, permission unchanged
    assert deleted.status_code == 204
    body = response.json()
    assert response.status_code == 200
    assert body["deleted_at"] == datetime.now(UTC).strftime("%Y-%m-%d")
    assert body["list_memberships"] == []
    assert body["email_address"]["permission_to_send"] == "explicit"


def test_deleting_an_already_deleted_contact_is_a_404_and_changes_nothing(
    sandbox: Sandbox, cc: requests.Session
) -> None:
    # Given a contact deleted an hour ago
    sandbox.clock.freeze()
    contact_id = sandbox.seed_contact("twice@example.com", lists=["A"], deleted=True)
    before = sandbox.contact(contact_id)
    sandbox.clock.advance(3600)

    # When it is deleted again
    again = cc.delete(f"{sandbox.base_url}/contacts/{contact_id}")

    # Then the API answers not found, and the contact (its deleted_at too) is as it was
    assert again.status_code == 404
    assert again.json()[0]["error_key"] == "contacts.api.not_found"
    assert sandbox.contact(contact_id) == before


def test_status_filters_and_unknown_contact(sandbox: Sandbox, cc: requests.Session) -> None:
    # Given one active, one unsubscribed and one deleted contact
    sandbox.seed_contact("on@example.com")
    sandbox.seed_contact("off@example.com", permission_to_send="unsubscribed")
    sandbox.seed_contact("gone@example.com", deleted=True)

    def emails(status: str | None) -> set[str]:
        params = {"status": status} if status else {}
        contacts = cc.get(f"{sandbox.base_url}/contacts", params=params).json()["contacts"]
        return {c["email_address"]["address"] for c in contacts}

    # When we filter by status / ask for an unknown id / pass a bad status
    unknown = cc.get(f"{sandbox.base_url}/contacts/{'0' * 8}-0000-0000-0000-{'0' * 12}")
    bad = cc.get(f"{sandbox.base_url}/contacts", params={"status": "gone"})

    # Then each status selects its contacts and errors are real-shaped
    assert emails(None) == {"on@example.com", "off@example.com"}
    assert emails("all") == {"on@example.com", "off@example.com", "gone@example.com"}
    assert emails("active") == {"on@example.com"}
    assert emails("deleted") == {"gone@example.com"}
    assert emails("unsubscribed") == {"off@example.com"}
    assert unknown.status_code == 404 and unknown.json()[0]["error_key"] == "contacts.api.not_found"
    assert bad.status_code == 400 and bad.json()[0]["error_key"] == "contacts.api.validation.error"


def test_subresources_are_only_returned_when_included(sandbox: Sandbox, cc: requests.Session) -> None:
    # Given a contact with a phone, an address, a list and a custom field
    contact_id = sandbox.seed_contact(
        "subs@example.com",
        lists=["A"],
        phone_numbers=[{"phone_number": "555-0100", "kind": "mobile"}],
        street_addresses=[{"kind": "home", "city": "Austin"}],
        custom_fields={"Favourite colour": "blue"},
    )

    # When we GET it without and with include=
    plain = cc.get(f"{sandbox.base_url}/contacts/{contact_id}").json()
    rich = cc.get(f"{sandbox.base_url}/contacts/{contact_id}", params={"include": "phone_numbers,custom_fields"}).json()

    # Then only the requested subresources appear
    assert not {"phone_numbers", "custom_fields", "list_memberships", "street_addresses"} & set(plain)
    assert [p["phone_number"] for p in rich["phone_numbers"]] == ["555-0100"]
    assert rich["custom_fields"][0]["value"] == "blue"
    assert "street_addresses" not in rich and "list_memberships" not in rich


def test_contact_collection_pages_with_a_next_cursor(sandbox: Sandbox, cc: requests.Session) -> None:
    # Given five contacts
    for i in range(5):
        sandbox.seed_contact(f"page{i}@example.com")

    # When we page through with limit=2 following _links.next.href
    seen: list[str] = []
    url: str | None = f"{sandbox.base_url}/contacts?limit=2"
    pages = 0
    while url:
        body = cc.get(url).json()
        seen += [c["email_address"]["address"] for c in body["contacts"]]
        href = body.get("_links", {}).get("next", {}).get("href")
        url = f"{sandbox.root_url}{href}" if href else None
        pages += 1

    # Then three pages deliver every contact once, in creation order
    assert pages == 3
    assert seen == [f"page{i}@example.com" for i in range(5)]


@pytest.mark.parametrize(
    ("path", "most"),
    [("contacts", 500), ("contact_lists", 500), ("contact_custom_fields", 100), ("contact_tags", 500)],
)
def test_a_page_size_outside_the_documented_range_is_a_400(
    sandbox: Sandbox, cc: requests.Session, path: str, most: int
) -> None:
    statuses = [cc.get(f"{sandbox.base_url}/{path}", params={"limit": n}).status_code for n in (0, 1, most, most + 1)]
    assert statuses == [400, 200, 200, 400]


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("contacts", "contacts"),
        ("contact_lists", "lists"),
        ("contact_custom_fields", "custom_fields"),
        ("contact_tags", "tags"),
    ],
)
def test_links_are_present_only_when_there_is_a_next_page(
    sandbox: Sandbox, cc: requests.Session, path: str, key: str
) -> None:
    # Given three items of a collection
    seed = {
        "contacts": lambda i: sandbox.seed_contact(f"link{i}@example.com"),
        "lists": lambda i: sandbox.seed_list(f"List {i}"),
        "custom_fields": lambda i: sandbox.seed_custom_field(f"Field {i}"),
        "tags": lambda i: sandbox.seed_tag(f"tag {i}"),
    }[key]
    for i in range(3):
        seed(i)

    # When we read it in one page, and in pages of two
    whole = cc.get(f"{sandbox.base_url}/{path}", params={"limit": 3}).json()
    first = cc.get(f"{sandbox.base_url}/{path}", params={"limit": 2}).json()
    last = cc.get(f"{sandbox.root_url}{first['_links']['next']['href']}").json()

    # Then only the page with more after it carries _links
    assert len(whole[key]) == 3 and "_links" not in whole
    assert len(last[key]) == 1 and "_links" not in last


# --- PUT semantics -------------------------------------------------------------------------------------


def test_put_nulls_omitted_core_fields_but_keeps_omitted_subresources(sandbox: Sandbox, cc: requests.Session) -> None:
    # Given a rich contact
    contact_id = sandbox.seed_contact(
        "rich@example.com",
        first_name="Ada",
        last_name="Lovelace",
        job_title="Engineer",
        company_name="Analytical",
        birthday_month=12,
        birthday_day=10,
        anniversary="2020-01-02",
        lists=["A", "B"],
        phone_numbers=[{"phone_number": "555-0100", "kind": "work"}],
        street_addresses=[{"kind": "work", "street": "1 Main St", "city": "London"}],
        custom_fields={"Plan": "gold"},
    )

    # When a PUT sends only the email, a new first name and a blank last name
    response = cc.put(
        f"{sandbox.base_url}/contacts/{contact_id}",
        json={
            "email_address": {"address": "rich@example.com"},
            "first_name": "Augusta",
            "last_name": "",
            "update_source": "Account",
        },
    )

    # Then core properties not sent (or blank) are gone, and subresources not sent are untouched
    assert response.status_code == 200
    stored = sandbox.contact_by_email("rich@example.com")
    assert stored is not None
    assert stored["first_name"] == "Augusta"
    for gone in ("last_name", "job_title", "company_name", "birthday_month", "birthday_day", "anniversary"):
        assert gone not in stored
    assert len(stored["list_memberships"]) == 2
    assert stored["phone_numbers"][0]["phone_number"] == "555-0100"
    assert stored["street_addresses"][0]["city"] == "London"
    assert stored["custom_fields"][0]["value"] == "gold"
    assert stored["email_address"]["permission_to_send"] == "implicit"
    assert stored["update_source"] == "Account"


def test_put_list_memberships_replace_the_stored_set(sandbox: Sandbox, cc: requests.Session) -> None:
    # Given a contact on lists A and B
    contact_id = sandbox.seed_contact("swap@example.com", lists=["A", "B"])
    list_c = sandbox.seed_list("C")

    # When a PUT sends list_memberships [C]
    cc.put(
        f"{sandbox.base_url}/contacts/{contact_id}",
        json={
            "email_address": {"address": "swap@example.com"},
            "list_memberships": [list_c],
            "update_source": "Account",
        },
    )

    # Then the contact is on C only
    stored = sandbox.contact_by_email("swap@example.com")
    assert stored is not None and stored["list_memberships"] == [list_c]


def test_put_without_update_source_is_rejected(sandbox: Sandbox, cc: requests.Session) -> None:
    # Given a contact
    contact_id = sandbox.seed_contact("src@example.com", first_name="Keep")

    # When a PUT omits update_source
    response = cc.put(
        f"{sandbox.base_url}/contacts/{contact_id}", json={"email_address": {"address": "src@example.com"}}
    )

    # Then it is a 400 and nothing changed
    assert response.status_code == 400
    assert "update_source" in response.json()[0]["error_message"]
    stored = sandbox.contact_by_email("src@example.com")
    assert stored is not None and stored["first_name"] == "Keep"


@pytest.mark.parametrize(
    ("update_source", "with_list", "expected_status"),
    [("Contact", True, 400), ("Account", False, 400), ("Account", True, 200)],
)
def test_put_revives_a_deleted_contact_only_with_account_source_and_a_list(
    sandbox: Sandbox, cc: requests.Session, update_source: str, with_list: bool, expected_status: int
) -> None:
    # Given a deleted contact
    contact_id = sandbox.seed_contact("revive@example.com", lists=["A"], deleted=True)
    list_id = sandbox.seed_list("A")
    body: dict[str, Any] = {"email_address": {"address": "revive@example.com"}, "update_source": update_source}
    if with_list:
        body["list_memberships"] = [list_id]

    # When we PUT it
    response = cc.put(f"{sandbox.base_url}/contacts/{contact_id}", json=body)

    # Then only Account + a list revives it; otherwise it stays deleted
    assert response.status_code == expected_status
    stored = sandbox.contact_by_email("revive@example.com")
    assert stored is not None
    if expected_status == 200:
        assert "deleted_at" not in stored and stored["list_memberships"] == [list_id]
    else:
        assert stored["deleted_at"] and stored["list_memberships"] == []


def test_put_cannot_opt_back_in_or_relist_a_contact_who_unsubscribed_themselves(
    sandbox: Sandbox, cc: requests.Session
) -> None:
    # Given a contact on list A who unsubscribed themselves
    contact_id = sandbox.seed_contact("bye@example.com", lists=["A"], first_name="Old")
    sandbox.unsubscribe_contact(contact_id, source="Contact")
    list_a, list_b = sandbox.seed_list("A"), sandbox.seed_list("B")
    url = f"{sandbox.base_url}/contacts/{contact_id}"

    # When PUTs try to set explicit, to add a list, and (separately) just to update the profile
    opt_in = cc.put(
        url,
        json={
            "email_address": {"address": "bye@example.com", "permission_to_send": "explicit"},
            "update_source": "Account",
        },
    )
    relist = cc.put(
        url,
        json={
            "email_address": {"address": "bye@example.com"},
            "list_memberships": [list_a, list_b],
            "update_source": "Account",
        },
    )
    profile = cc.put(
        url,
        json={
            "email_address": {"address": "bye@example.com"},
            "first_name": "New",
            "list_memberships": [list_a],
            "update_source": "Contact",
        },
    )

    # Then opting in and adding lists are 400s, the profile update works, and permission never moved
    assert opt_in.status_code == 400 and relist.status_code == 400
    assert profile.status_code == 200
    stored = sandbox.contact_by_email("bye@example.com")
    assert stored is not None
    assert stored["first_name"] == "New"
    assert stored["email_address"]["permission_to_send"] == "unsubscribed"
    assert stored["email_address"]["opt_out_source"] == "Contact"
    assert [h["to"] for h in sandbox.permission_history(contact_id)] == ["implicit", "unsubscribed"]


def test_put_may_relist_a_contact_the_account_unsubscribed(sandbox: Sandbox, cc: requests.Session) -> None:
    # Given a contact the account unsubscribed
    contact_id = sandbox.seed_contact("acct@example.com")
    sandbox.unsubscribe_contact(contact_id, source="Account")
    list_id = sandbox.seed_list("A")

    # When a PUT sets implicit and adds a list
    response = cc.put(
        f"{sandbox.base_url}/contacts/{contact_id}",
        json={
            "email_address": {"address": "acct@example.com", "permission_to_send": "implicit"},
            "list_memberships": [list_id],
            "update_source": "Account",
        },
    )

    # Then it is accepted (the spec lets the account add such contacts back)
    assert response.status_code == 200
    assert response.json()["email_address"]["permission_to_send"] == "implicit"
    stored = sandbox.contact(contact_id)
    assert stored is not None and stored["list_memberships"] == [list_id]


def test_post_and_put_answer_with_core_properties_only(sandbox: Sandbox, cc: requests.Session) -> None:
    # Given a body with every subresource
    list_id, tag_id = sandbox.seed_list("A"), sandbox.seed_tag("t")
    field_id = sandbox.seed_custom_field("Plan")
    subresources = {
        "list_memberships": [list_id],
        "taggings": [tag_id],
        "custom_fields": [{"custom_field_id": field_id, "value": "gold"}],
        "phone_numbers": [{"phone_number": "555-0100", "kind": "home"}],
        "street_addresses": [{"kind": "home", "city": "Austin"}],
        "notes": [{"content": "met at the fair"}],
    }

    # When a contact is created with it, then PUT with it
    created = cc.post(f"{sandbox.base_url}/contacts", json=new_contact_body("core@example.com", **subresources))
    contact_id = created.json()["contact_id"]
    put_body = {"email_address": {"address": "core@example.com"}, "first_name": "Cora", "update_source": "Account"}
    updated = cc.put(f"{sandbox.base_url}/contacts/{contact_id}", json=put_body | subresources)

    # Then both answers carry the core properties and no subresource; GET with include= has them all
    assert (created.status_code, updated.status_code) == (201, 200)
    for answer in (created.json(), updated.json()):
        assert answer["contact_id"] == contact_id and answer["email_address"]["address"] == "core@example.com"
        assert not set(subresources) & set(answer)
    assert updated.json()["first_name"] == "Cora"
    full = cc.get(f"{sandbox.base_url}/contacts/{contact_id}", params={"include": ",".join(subresources)}).json()
    assert set(subresources) <= set(full)


# --- sign_up_form --------------------------------------------------------------------------------------


def test_sign_up_form_creates_an_explicit_contact(sandbox: Sandbox, cc: requests.Session) -> None:
    # Given a list
    list_id = sandbox.seed_list("Newsletter")

    # When a new email signs up
    response = cc.post(
        f"{sandbox.base_url}/contacts/sign_up_form",
        json={"email_address": "new@example.com", "first_name": "Neo", "list_memberships": [list_id]},
    )

    # Then it is created (201) as explicit, opted in by the Contact, on the list
    assert response.status_code == 201
    assert response.json()["action"] == "created"
    stored = sandbox.contact_by_email("new@example.com")
    assert stored is not None and stored["contact_id"] == response.json()["contact_id"]
    assert stored["email_address"]["permission_to_send"] == "explicit"
    assert stored["email_address"]["opt_in_source"] == "Contact"
    assert stored["create_source"] == "Contact"
    assert stored["list_memberships"] == [list_id]


def test_sign_up_form_with_confirmed_opt_in_creates_pending_confirmation() -> None:
    # Given an account with Confirmed Opt-In
    with Sandbox(rate_limit_per_second=0, confirmed_opt_in=True) as sandbox:
        list_id = sandbox.seed_list("Newsletter")

        # When a new email signs up
        response = api(sandbox).post(
            f"{sandbox.base_url}/contacts/sign_up_form",
            json={"email_address": "coi@example.com", "list_memberships": [list_id]},
        )

        # Then the contact waits for confirmation
        assert response.status_code == 201
        stored = sandbox.contact_by_email("coi@example.com")
        assert stored is not None
        assert stored["email_address"]["permission_to_send"] == "pending_confirmation"
        assert stored["email_address"]["confirm_status"] == "pending"


def test_sign_up_form_appends_lists_and_custom_fields_and_keeps_the_rest(
    sandbox: Sandbox, cc: requests.Session
) -> None:
    # Given an existing contact with a job title, list A and custom field Plan
    sandbox.seed_contact("old@example.com", job_title="CTO", lists=["A"], custom_fields={"Plan": "gold"})
    list_b = sandbox.seed_list("B")
    source_field = sandbox.seed_custom_field("Source")

    # When the same email signs up for list B with another custom field
    response = cc.post(
        f"{sandbox.base_url}/contacts/sign_up_form",
        json={
            "email_address": "old@example.com",
            "first_name": "Olga",
            "list_memberships": [list_b],
            "custom_fields": [{"custom_field_id": source_field, "value": "webinar"}],
        },
    )

    # Then it is an update (200) that added, not replaced
    assert response.status_code == 200 and response.json()["action"] == "updated"
    stored = sandbox.contact_by_email("old@example.com")
    assert stored is not None
    assert stored["first_name"] == "Olga" and stored["job_title"] == "CTO"
    assert stored["list_memberships"] == [sandbox.seed_list("A"), list_b]
    assert {f["value"] for f in stored["custom_fields"]} == {"gold", "webinar"}
    assert stored["email_address"]["permission_to_send"] == "explicit"


def test_sign_up_form_revives_a_deleted_contact(sandbox: Sandbox, cc: requests.Session) -> None:
    # Given a deleted contact
    sandbox.seed_contact("lazarus@example.com", lists=["A"], deleted=True)
    list_id = sandbox.seed_list("A")

    # When it signs up again
    response = cc.post(
        f"{sandbox.base_url}/contacts/sign_up_form",
        json={"email_address": "lazarus@example.com", "list_memberships": [list_id]},
    )

    # Then it is restored onto the list
    assert response.status_code == 200
    stored = sandbox.contact_by_email("lazarus@example.com")
    assert stored is not None and "deleted_at" not in stored and stored["list_memberships"] == [list_id]


def test_sign_up_form_sets_explicit_even_for_an_unsubscribed_contact_and_history_shows_it(
    sandbox: Sandbox, cc: requests.Session
) -> None:
    # Given a contact who unsubscribed themselves
    contact_id = sandbox.seed_contact("back@example.com", permission_to_send="unsubscribed")
    list_id = sandbox.seed_list("A")

    # When they sign up on a form
    cc.post(
        f"{sandbox.base_url}/contacts/sign_up_form",
        json={"email_address": "back@example.com", "list_memberships": [list_id]},
    )

    # Then they are explicit again, and the history records who did it
    stored = sandbox.contact_by_email("back@example.com")
    assert stored is not None and stored["email_address"]["permission_to_send"] == "explicit"
    assert "opt_out_source" not in stored["email_address"]
    last = sandbox.permission_history(contact_id)[-1]
    assert (last["from"], last["to"], last["via"], last["source"]) == (
        "unsubscribed",
        "explicit",
        "sign_up_form",
        "Contact",
    )


def test_an_unsubscribed_contact_shows_when_it_opted_out_until_it_opts_back_in(
    sandbox: Sandbox, cc: requests.Session
) -> None:
    # Given a contact who unsubscribes at a known time
    sandbox.clock.freeze()
    contact_id = sandbox.seed_contact("later@example.com")
    unsubscribed_at = sandbox.clock.now()
    sandbox.unsubscribe_contact(contact_id)
    sandbox.clock.advance(60)

    # When the API is asked for it (the engine's lookup)
    found = cc.get(f"{sandbox.base_url}/contacts", params={"email": "later@example.com", "status": "all"}).json()

    # Then email_address carries opt_out_source and opt_out_date (ISO-8601 UTC), the time it unsubscribed
    [contact] = found["contacts"]
    opt_out_date = contact["email_address"]["opt_out_date"]
    assert contact["email_address"]["opt_out_source"] == "Contact"
    assert abs(datetime.fromisoformat(opt_out_date) - unsubscribed_at) < timedelta(milliseconds=1)

    # And once sign_up_form opts them back in, the opt-out fields are gone
    cc.post(
        f"{sandbox.base_url}/contacts/sign_up_form",
        json={"email_address": "later@example.com", "list_memberships": [sandbox.seed_list("A")]},
    )
    stored = sandbox.contact_by_email("later@example.com")
    assert stored is not None and "opt_out_date" not in stored["email_address"]


@pytest.mark.parametrize(
    ("body_change", "message_part"),
    [
        ({"email_address": f"{'x' * 39}@example.com"}, "maximum length of 50"),  # 51 characters
        ({"list_memberships": []}, "at least 1"),
        ({"permission_to_send": "explicit"}, "not a recognized property"),
        ({"taggings": []}, "not a recognized property"),
    ],
)
def test_sign_up_form_rejects_what_its_schema_does_not_allow(
    sandbox: Sandbox, cc: requests.Session, body_change: dict[str, Any], message_part: str
) -> None:
    # Given a valid sign-up body, changed in one way
    body: dict[str, Any] = {"email_address": "ok@example.com", "list_memberships": [sandbox.seed_list("A")]}
    body |= body_change

    # When it is sent
    response = cc.post(f"{sandbox.base_url}/contacts/sign_up_form", json=body)

    # Then it is a 400 naming the problem, and nothing was created
    assert response.status_code == 400
    assert any(message_part in e["error_message"] for e in response.json())
    assert sandbox.all_contacts() == []


def test_sign_up_form_answers_409_to_a_concurrent_write_of_the_same_contact(sandbox: Sandbox) -> None:
    # Given a slow API and two simultaneous sign-ups of one person
    sandbox.latency = 0.3
    list_id = sandbox.seed_list("A")
    token = sandbox.issue_tokens()["access_token"]
    statuses: list[int] = []

    def sign_up() -> None:
        response = api(sandbox, token).post(
            f"{sandbox.base_url}/contacts/sign_up_form",
            json={"email_address": "twice@example.com", "list_memberships": [list_id]},
        )
        statuses.append(response.status_code)

    # When both are sent at once
    threads = [threading.Thread(target=sign_up) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then one wins and the other gets the concurrent-write 409
    assert sorted(statuses) == [201, 409]
    assert len(sandbox.all_contacts()) == 1


def test_overlapping_sign_ups_of_one_address_conflict_at_default_settings(sandbox: Sandbox) -> None:
    # Given the default latency, a list, and two clients with their connections already open
    list_id = sandbox.seed_list("A")
    token = sandbox.issue_tokens()["access_token"]
    clients = [api(sandbox, token) for _ in range(2)]
    for client in clients:
        assert client.get(f"{sandbox.base_url}/contact_lists").status_code == 200
    start = threading.Barrier(2)
    rounds: list[list[int]] = []

    def sign_up(client: requests.Session, email: str, statuses: list[int]) -> None:
        start.wait()
        body = {"email_address": email, "list_memberships": [list_id]}
        statuses.append(client.post(f"{sandbox.base_url}/contacts/sign_up_form", json=body).status_code)

    # When, three times, both clients sign the same new address up at the same moment
    for i in range(3):
        statuses: list[int] = []
        threads = [
            threading.Thread(target=sign_up, args=(client, f"both{i}@example.com", statuses)) for client in clients
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        rounds.append(sorted(statuses))

    # And then one client signs another address up five times in a row
    again = {"email_address": "again@example.com", "list_memberships": [list_id]}
    sequential = [
        clients[0].post(f"{sandbox.base_url}/contacts/sign_up_form", json=again).status_code for _ in range(5)
    ]

    # Then every overlapping pair is one write and one "simultaneous requests" 409; calls in a row never conflict
    assert rounds == [[201, 409]] * 3
    assert sequential == [201, 200, 200, 200, 200]


# --- resubscribe --------------------------------------------------------------------------------------


def test_resubscribe_only_for_unsubscribed_contacts_only_once_and_without_changing_permission(
    sandbox: Sandbox, cc: requests.Session
) -> None:
    # Given an unsubscribed and an active contact
    gone = sandbox.seed_contact("gone@example.com", permission_to_send="unsubscribed")
    active = sandbox.seed_contact("here@example.com")
    list_id = sandbox.seed_list("A")
    body = {"list_ids": [list_id]}

    # When we ask for resubscribe emails (twice for the unsubscribed one)
    first = cc.put(f"{sandbox.base_url}/contacts/resubscribe/{gone}", json=body)
    second = cc.put(f"{sandbox.base_url}/contacts/resubscribe/{gone}", json=body)
    not_unsubscribed = cc.put(f"{sandbox.base_url}/contacts/resubscribe/{active}", json=body)

    # Then the first is recorded (200, no body), the repeat is a 409, the active one a 400; still unsubscribed
    assert (first.status_code, first.content) == (200, b"")
    assert second.status_code == 409 and not_unsubscribed.status_code == 400
    assert sandbox.resubscribe_request(gone) is not None
    stored = sandbox.contact_by_email("gone@example.com")
    assert stored is not None and stored["email_address"]["permission_to_send"] == "unsubscribed"

    # And when the contact confirms the email, they are explicit and on the list
    sandbox.confirm_resubscribe(gone)
    stored = sandbox.contact_by_email("gone@example.com")
    assert stored is not None and stored["email_address"]["permission_to_send"] == "explicit"
    assert stored["list_memberships"] == [list_id]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({}, "list_ids is required"),
        ({"list_ids": []}, "at least 1 list_id"),
        ({"list_ids": ["LIST"] * 51}, "list_ids"),
        ({"list_ids": ["00000000-0000-4000-8000-000000000000"]}, "does not exist"),
    ],
)
def test_resubscribe_needs_1_to_50_existing_list_ids_and_sends_nothing_otherwise(
    sandbox: Sandbox, cc: requests.Session, body: dict[str, Any], problem: str
) -> None:
    gone = sandbox.seed_contact("gone@example.com", permission_to_send="unsubscribed")
    sent = json.loads(json.dumps(body).replace("LIST", sandbox.seed_list("A")))

    answer = cc.put(f"{sandbox.base_url}/contacts/resubscribe/{gone}", json=sent)

    assert answer.status_code == 400
    assert problem in answer.json()[0]["error_message"]
    assert sandbox.resubscribe_request(gone) is None


# --- validation, media type ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "message_part"),
    [
        ({"first_name": "x" * 51}, "first_name exceeds the maximum length of 50"),
        ({"job_title": "x" * 51}, "job_title exceeds"),
        ({"phone_numbers": [{"phone_number": "1" * 26, "kind": "home"}]}, "maximum length of 25"),
        ({"phone_numbers": [{"phone_number": "555", "kind": "pager"}]}, "kind must be one of"),
        ({"phone_numbers": [{"phone_number": str(i), "kind": "home"} for i in range(4)]}, "more than 3"),
        ({"street_addresses": [{"city": "Nowhere"}]}, "kind is required"),
        ({"street_addresses": [{"kind": "home", "city": "x" * 51}]}, "city exceeds"),
        ({"birthday_month": 5}, "must be sent together"),
        ({"birthday_month": 2, "birthday_day": 30}, "not a valid date"),
        ({"birthday_month": 13, "birthday_day": 1}, "between 1 and 12"),
        ({"anniversary": "31/12/2020"}, "anniversary must be a valid date"),
        ({"notes": [{"content": "x" * 2001}]}, "maximum length of 2000"),
        ({"list_memberships": ["7e1b5d4a-0000-4000-8000-000000000000"]}, "does not exist"),
        ({"taggings": ["not-a-uuid"]}, "not a valid tag_id"),
        ({"custom_fields": [{"custom_field_id": "7e1b5d4a-0000-4000-8000-000000000000", "value": "x"}]}, "not exist"),
        ({"nickname": "Al"}, "nickname is not a recognized property"),
        ({"create_source": "Robot"}, "create_source is required"),
        ({"email_address": {"address": "x" * 70 + "@example.com"}}, "maximum length of 80"),
        ({"email_address": {"address": "a@example.com", "permission_to_send": "yes"}}, "permission_to_send must be"),
    ],
)
def test_post_contact_validation_errors_use_the_real_error_shape(
    sandbox: Sandbox, cc: requests.Session, extra: dict[str, Any], message_part: str
) -> None:
    # Given a contact body with one violation
    body = new_contact_body("valid@example.com") | extra

    # When it is posted
    response = cc.post(f"{sandbox.base_url}/contacts", json=body)

    # Then it is a 400 whose body is an array of {error_key, error_message} naming the problem
    assert response.status_code == 400
    errors = response.json()
    assert isinstance(errors, list)
    assert all(set(e) == {"error_key", "error_message"} for e in errors)
    assert all(e["error_key"] == "contacts.api.validation.error" for e in errors)
    assert any(message_part in e["error_message"] for e in errors), errors


@pytest.mark.parametrize(
    ("method", "path", "params"),
    [
        ("GET", "contacts", {"emails": "a@example.com"}),  # a typo of `email`: not silently "every contact"
        ("GET", "contacts", {"segment_id": "1"}),  # valid for the API, not implemented here: refused, not ignored
        ("GET", "contacts/{contact}", {"include": "list_memberships", "status": "all"}),
        ("GET", "contact_lists", {"list_name": "A"}),
        ("GET", "contact_lists/{list}", {"include_count": "true"}),
        ("GET", "contact_custom_fields", {"include_count": "true"}),
        ("GET", "contact_tags", {"name": "vip"}),
        ("GET", "activities/{activity}", {"include": "status"}),
        ("POST", "contacts/sign_up_form", {"action": "create"}),
        ("POST", "activities/contacts_taggings_add", {"limit": "1"}),
    ],
)
def test_unknown_query_parameters_are_a_400(
    sandbox: Sandbox, cc: requests.Session, method: str, path: str, params: dict[str, str]
) -> None:
    # Given a contact, a list, a tag and an activity, and a body valid for each POST
    list_id, tag_id = sandbox.seed_list("A"), sandbox.seed_tag("vip")
    contact_id = sandbox.seed_contact("query@example.com", lists=["A"])
    activity = cc.post(
        f"{sandbox.base_url}/activities/contacts_taggings_add",
        json={"source": {"contact_ids": [contact_id]}, "tag_ids": [tag_id]},
    ).json()
    bodies = {
        "contacts/sign_up_form": {"email_address": "query@example.com", "list_memberships": [list_id]},
        "activities/contacts_taggings_add": {"source": {"contact_ids": [contact_id]}, "tag_ids": [tag_id]},
    }
    url = f"{sandbox.base_url}/" + path.format(contact=contact_id, list=list_id, activity=activity["activity_id"])

    # When the operation is called with it and with a query parameter it does not declare
    plain = cc.request(method, url, json=bodies.get(path))
    response = cc.request(method, url, params=params, json=bodies.get(path))

    # Then the plain call works and the one with the unknown parameter is a 400 naming it
    assert plain.status_code in (200, 201)
    assert response.status_code == 400
    [error] = response.json()
    assert error["error_key"] == "contacts.api.validation.error"
    assert [name for name in params if name in error["error_message"]], error


@pytest.mark.parametrize("endpoint", ["POST /contacts", "PUT /contacts/{id}", "POST /contacts/sign_up_form"])
def test_the_same_custom_field_twice_in_one_body_is_a_400(
    sandbox: Sandbox, cc: requests.Session, endpoint: str
) -> None:
    # Given a custom field, a list and an existing contact
    field_id, list_id = sandbox.seed_custom_field("Plan"), sandbox.seed_list("A")
    contact_id = sandbox.seed_contact("cf@example.com", custom_fields={"Plan": "bronze"})
    twice = [{"custom_field_id": field_id, "value": "gold"}, {"custom_field_id": field_id, "value": "silver"}]
    method, path = endpoint.split(" ")
    body: dict[str, Any] = {
        "POST /contacts": new_contact_body("new-cf@example.com"),
        "PUT /contacts/{id}": {"email_address": {"address": "cf@example.com"}, "update_source": "Account"},
        "POST /contacts/sign_up_form": {"email_address": "cf@example.com", "list_memberships": [list_id]},
    }[endpoint] | {"custom_fields": twice}

    # When the body names the custom field twice with two values
    response = cc.request(method, f"{sandbox.root_url}/v3{path.format(id=contact_id)}", json=body)

    # Then it is a 400 (neither value silently wins) and nothing changed
    assert response.status_code == 400
    assert any("more than once" in e["error_message"] for e in response.json())
    assert sandbox.contact_by_email("new-cf@example.com") is None
    stored = sandbox.contact(contact_id)
    assert stored is not None and [f["value"] for f in stored["custom_fields"]] == ["bronze"]


def test_twenty_six_custom_fields_are_too_many_for_a_contact(sandbox: Sandbox, cc: requests.Session) -> None:
    # Given 26 custom fields
    ids = [sandbox.seed_custom_field(f"Field {i}") for i in range(26)]

    # When a contact is posted with all of them
    body = new_contact_body("many@example.com", custom_fields=[{"custom_field_id": i, "value": "v"} for i in ids])
    response = cc.post(f"{sandbox.base_url}/contacts", json=body)

    # Then the limit of 25 is enforced
    assert response.status_code == 400
    assert "more than 25" in response.json()[0]["error_message"]


def test_several_problems_are_reported_together(sandbox: Sandbox, cc: requests.Session) -> None:
    # When a body breaks three rules at once
    body = {"email_address": {"address": "a@example.com"}, "first_name": "x" * 60, "birthday_day": 3}
    response = cc.post(f"{sandbox.base_url}/contacts", json=body)

    # Then all three are in the one 400 answer
    assert response.status_code == 400
    assert len(response.json()) == 3


def test_non_json_content_type_is_415_and_malformed_json_is_400(sandbox: Sandbox, cc: requests.Session) -> None:
    # When a body is sent as text/plain, and as JSON with a trailing comma
    text = cc.post(f"{sandbox.base_url}/contacts", data='{"a": 1}', headers={"Content-Type": "text/plain"})
    broken = cc.post(
        f"{sandbox.base_url}/contacts",
        data='{"create_source": "Contact",}',
        headers={"Content-Type": "application/json"},
    )

    # Then 415 and 400, both with array bodies
    assert text.status_code == 415
    assert text.json()[0]["error_key"] == "contacts.api.unsupported_media_type"
    assert broken.status_code == 400
    assert "not valid JSON" in broken.json()[0]["error_message"]


# --- auth ---------------------------------------------------------------------------------------------


def test_missing_unknown_and_expired_tokens_get_the_401_object(short_lived_sandbox: Sandbox) -> None:
    sandbox = short_lived_sandbox
    url = f"{sandbox.base_url}/contacts"
    # Given a valid token that lives 2 s
    token = sandbox.issue_tokens()["access_token"]
    fresh = api(sandbox, token).get(url)

    # When we call without a token, with a made-up one, and with ours after 3 s
    missing = requests.get(url, timeout=10)
    unknown = api(sandbox, "not-a-token").get(url)
    sandbox.clock.advance(3)
    expired = api(sandbox, token).get(url)

    # Then every failure is the single unauthorized object
    assert fresh.status_code == 200
    for response in (missing, unknown, expired):
        assert response.status_code == 401
        assert response.json() == {"error_key": "unauthorized", "error_message": "Unauthorized"}


def test_expire_access_tokens_expires_every_token_issued(sandbox: Sandbox) -> None:
    # Given a working token
    session = api(sandbox)
    assert session.get(f"{sandbox.base_url}/contact_lists").status_code == 200

    # When the sandbox expires all tokens
    sandbox.expire_access_tokens()

    # Then the same token is refused
    assert session.get(f"{sandbox.base_url}/contact_lists").status_code == 401


def test_token_without_contact_data_scope_is_forbidden(sandbox: Sandbox) -> None:
    # Given a token for campaign data only
    token = sandbox.issue_tokens(scope="campaign_data")["access_token"]

    # When it reads contacts
    response = api(sandbox, token).get(f"{sandbox.base_url}/contacts")

    # Then it is a 403
    assert response.status_code == 403


# --- refresh tokens -------------------------------------------------------------------------------------


def test_rotating_refresh_returns_a_new_token_and_the_old_one_is_invalid_grant(short_lived_sandbox: Sandbox) -> None:
    sandbox = short_lived_sandbox
    # Given a grant with a rotating refresh token
    first = sandbox.issue_tokens()

    # When we refresh, then reuse the first refresh token a second later
    refreshed = token_call(sandbox, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    sandbox.clock.advance(1.5)
    reused = token_call(sandbox, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    sandbox.clock.advance(1.5)
    second = token_call(sandbox, {"grant_type": "refresh_token", "refresh_token": refreshed.json()["refresh_token"]})

    # Then the refresh gave a new pair, the old refresh token is invalid_grant, and the new one works once
    assert refreshed.status_code == 200
    assert refreshed.json()["refresh_token"] != first["refresh_token"]
    assert refreshed.json()["token_type"] == "Bearer" and refreshed.json()["expires_in"] == 2
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    assert second.status_code == 200
    assert sandbox.refresh_count == 2 and sandbox.invalid_grant_count == 1
    # And the new access token works on the API
    assert api(sandbox, second.json()["access_token"]).get(f"{sandbox.base_url}/contacts").status_code == 200


def test_long_lived_refresh_token_is_returned_unchanged_and_keeps_working() -> None:
    # Given a sandbox whose app uses long-lived refresh tokens
    with Sandbox(rate_limit_per_second=0, refresh_token_type="long_lived") as sandbox:
        sandbox.clock.freeze()
        refresh_token = sandbox.issue_tokens()["refresh_token"]

        # When we refresh three times, a second apart
        answers = []
        for _ in range(3):
            answers.append(token_call(sandbox, {"grant_type": "refresh_token", "refresh_token": refresh_token}))
            sandbox.clock.advance(1.1)

        # Then each gives a new access token and the same refresh token
        assert [a.status_code for a in answers] == [200, 200, 200]
        assert {a.json()["refresh_token"] for a in answers} == {refresh_token}
        assert len({a.json()["access_token"] for a in answers}) == 3


@pytest.mark.parametrize("refresh_token_type", ["rotating", "long_lived"])
def test_refresh_tokens_die_after_180_days_unused(refresh_token_type: str) -> None:
    # Given a refresh token left alone for 181 days
    with Sandbox(rate_limit_per_second=0, refresh_token_type=refresh_token_type) as sandbox:
        sandbox.clock.freeze()
        refresh_token = sandbox.issue_tokens()["refresh_token"]
        sandbox.clock.advance(181 * 86400)

        # When it is used
        response = token_call(sandbox, {"grant_type": "refresh_token", "refresh_token": refresh_token})

        # Then it is invalid_grant
        assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_refresh_needs_client_authentication_and_no_offline_access_means_no_refresh_token(sandbox: Sandbox) -> None:
    # Given a grant without offline_access and one with it
    without = sandbox.issue_tokens(scope="contact_data")
    refresh_token = sandbox.issue_tokens()["refresh_token"]

    # When we refresh with a wrong secret
    wrong = requests.post(
        sandbox.token_url,
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        auth=(sandbox.client_id, "wrong"),
        timeout=10,
    )

    # Then there was no refresh token to begin with, and bad client credentials are invalid_client
    assert "refresh_token" not in without
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"


def test_token_endpoint_allows_one_request_per_second_per_client(short_lived_sandbox: Sandbox) -> None:
    sandbox = short_lived_sandbox
    # Given a refresh token
    refresh_token = sandbox.issue_tokens()["refresh_token"]

    # When two refreshes come within the same second, and another one after a second
    first = token_call(sandbox, {"grant_type": "refresh_token", "refresh_token": refresh_token})
    too_soon = token_call(sandbox, {"grant_type": "refresh_token", "refresh_token": first.json()["refresh_token"]})
    sandbox.clock.advance(1)
    later = token_call(sandbox, {"grant_type": "refresh_token", "refresh_token": first.json()["refresh_token"]})

    # Then the second is a 429 with an OAuth-style body and did not burn the refresh token
    assert first.status_code == 200
    assert too_soon.status_code == 429 and too_soon.json()["error"] == "too_many_requests"
    assert later.status_code == 200
    assert [r["status"] for r in sandbox.token_requests] == [200, 429, 200]


def test_token_endpoint_takes_its_parameters_from_the_query_string_as_constant_contact_support_shows(
    short_lived_sandbox: Sandbox,
) -> None:
    sandbox = short_lived_sandbox
    # Given a refresh token
    refresh_token = sandbox.issue_tokens()["refresh_token"]

    # When it is refreshed with the parameters in the query string (CC support's example) and no body
    response = requests.post(
        sandbox.token_url,
        params={"grant_type": "refresh_token", "refresh_token": refresh_token},
        auth=(sandbox.client_id, sandbox.client_secret),
        timeout=10,
    )

    # Then it is an ordinary refresh
    assert response.status_code == 200 and response.json()["refresh_token"] != refresh_token


# --- rate limits, quota, faults ---------------------------------------------------------------------------


def test_more_than_four_requests_in_a_second_are_throttled(cc_sandbox: Sandbox) -> None:
    # Given the real per-second limit on a frozen clock
    cc_sandbox.clock.freeze()
    session = api(cc_sandbox)
    url = f"{cc_sandbox.base_url}/contact_lists"

    # When five requests come within one second, then one more after the second has passed
    statuses = [session.get(url).status_code for _ in range(5)]
    throttled = session.get(url)
    cc_sandbox.clock.advance(1)
    after = session.get(url)

    # Then the fifth (and sixth) are 429 throttled, and the next second is fine
    assert statuses == [200, 200, 200, 200, 429]
    assert throttled.json() == {"error_key": "throttled", "error_message": "Too Many Requests"}
    assert after.status_code == 200


def test_refused_requests_count_so_a_client_steadily_over_the_limit_stays_throttled(cc_sandbox: Sandbox) -> None:
    # Given the real per-second limit on a frozen clock
    cc_sandbox.clock.freeze()
    session = api(cc_sandbox)
    url = f"{cc_sandbox.base_url}/contact_lists"

    # When a client sends 5 requests a second, evenly, for three seconds, then slows down to 4 a second
    statuses = []
    for _ in range(15):
        statuses.append(session.get(url).status_code)
        cc_sandbox.clock.advance(0.2)
    cc_sandbox.clock.advance(1)
    slower = []
    for _ in range(8):
        slower.append(session.get(url).status_code)
        cc_sandbox.clock.advance(0.25)

    # Then after its first four, every request at 5/s is refused (the refused ones count too); at 4/s all pass
    assert statuses == [200] * 4 + [429] * 11
    assert slower == [200] * 8


def test_daily_quota_is_exceeded_until_midnight_utc() -> None:
    # Given a quota of 3 requests a day
    with Sandbox(rate_limit_per_second=0, daily_quota=3) as sandbox:
        sandbox.clock.freeze()
        session = api(sandbox)
        url = f"{sandbox.base_url}/contact_lists"

        # When four requests are made, then one after 00:00 UTC
        statuses = [session.get(url).status_code for _ in range(3)]
        over = session.get(url)
        now = sandbox.clock.now()
        midnight = datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)
        sandbox.clock.advance((midnight - now).total_seconds() + 1)
        next_day = session.get(url)

        # Then the fourth is quota_exceeded and the new day starts afresh
        assert statuses == [200, 200, 200]
        assert over.status_code == 429
        assert over.json() == {"error_key": "quota_exceeded", "error_message": "Limit Exceeded"}
        assert next_day.status_code == 200


def test_limits_are_per_client(cc_sandbox: Sandbox) -> None:
    # Given two apps (API keys), on a frozen clock
    cc_sandbox.clock.freeze()
    other_id, _ = cc_sandbox.add_client()
    mine = api(cc_sandbox)
    theirs = api(cc_sandbox, cc_sandbox.oauth.issue_tokens(other_id)["access_token"])
    url = f"{cc_sandbox.base_url}/contact_lists"

    # When mine uses up its second
    for _ in range(4):
        mine.get(url)

    # Then mine is throttled and theirs is not; reset_rate_limits clears mine
    assert mine.get(url).status_code == 429
    assert theirs.get(url).status_code == 200
    cc_sandbox.reset_rate_limits()
    assert mine.get(url).status_code == 200


def test_injected_faults_answer_matching_requests_with_a_real_error_body(
    sandbox: Sandbox, cc: requests.Session
) -> None:
    # Given two 503s injected on the contacts path
    sandbox.inject_faults(status=503, count=2, path_prefix="/v3/contacts")

    # When we call a list endpoint and the contacts endpoint three times
    lists = cc.get(f"{sandbox.base_url}/contact_lists")
    contacts = [cc.get(f"{sandbox.base_url}/contacts") for _ in range(3)]

    # Then only the next two contacts calls failed, with an array body
    assert lists.status_code == 200
    assert [r.status_code for r in contacts] == [503, 503, 200]
    assert contacts[0].json()[0]["error_key"] == "service_unavailable"


def test_injected_409_on_sign_up_form_has_its_concurrent_write_message(sandbox: Sandbox, cc: requests.Session) -> None:
    # Given a 409 injected on sign_up_form and another on POST /contacts
    sandbox.inject_faults(status=409, count=1, path_prefix="/v3/contacts/sign_up_form")
    list_id = sandbox.seed_list("A")

    # When each endpoint is called
    sign_up = cc.post(
        f"{sandbox.base_url}/contacts/sign_up_form",
        json={"email_address": "race@example.com", "list_memberships": [list_id]},
    )
    sandbox.inject_faults(status=409, count=1, path_prefix="/v3/contacts", method="POST")
    create = cc.post(
        f"{sandbox.base_url}/contacts",
        json={"email_address": {"address": "race@example.com"}, "create_source": "Account"},
    )

    # Then sign_up_form answers with its documented concurrent-write message, POST /contacts with the generic one
    assert sign_up.status_code == create.status_code == 409
    assert sign_up.json() == [
        {
            "error_key": "contacts.api.conflict",
            "error_message": "You sent simultaneous requests that are attempting to modify the same contact.",
        }
    ]
    assert create.json()[0]["error_key"] == "contacts.api.conflict"
    assert "simultaneous" not in create.json()[0]["error_message"]


def test_request_log_records_each_call(sandbox: Sandbox, cc: requests.Session) -> None:
    # When we make two calls
    cc.get(f"{sandbox.base_url}/contacts", params={"status": "all"})
    requests.get(f"{sandbox.base_url}/contact_tags", timeout=10)

    # Then both are in the log with method, path, status and client
    first, second = sandbox.request_log[-2:]
    assert (first["method"], first["path"], first["status"], first["client_id"]) == (
        "GET",
        "/v3/contacts",
        200,
        sandbox.client_id,
    )
    assert first["query"] == "status=all"
    assert (second["path"], second["status"], second["client_id"]) == ("/v3/contact_tags", 401, None)


# --- lists, custom fields, tags -----------------------------------------------------------------------


def test_lists_are_unique_by_name_and_found_by_exact_name(sandbox: Sandbox, cc: requests.Session) -> None:
    # When we create a list, create it again, and look it up by name
    created = cc.post(f"{sandbox.base_url}/contact_lists", json={"name": "VIP", "description": "Best"})
    duplicate = cc.post(f"{sandbox.base_url}/contact_lists", json={"name": "VIP"})
    cc.post(f"{sandbox.base_url}/contact_lists", json={"name": "VIP customers"})
    found = cc.get(f"{sandbox.base_url}/contact_lists", params={"name": "VIP"}).json()["lists"]

    # Then the duplicate is a 409 and the exact name finds one list
    assert created.status_code == 201
    assert duplicate.status_code == 409
    assert [x["list_id"] for x in found] == [created.json()["list_id"]]


def test_custom_fields_derive_their_name_from_the_label(sandbox: Sandbox, cc: requests.Session) -> None:
    # When we create a custom field with blanks in its label, and a bad type
    created = cc.post(f"{sandbox.base_url}/contact_custom_fields", json={"label": "Signup Source", "type": "string"})
    bad_type = cc.post(f"{sandbox.base_url}/contact_custom_fields", json={"label": "Other", "type": "emoji"})
    listed = cc.get(f"{sandbox.base_url}/contact_custom_fields").json()["custom_fields"]

    # Then the name uses underscores and the bad type is a 400
    assert created.status_code == 201 and created.json()["name"] == "Signup_Source"
    assert bad_type.status_code == 400
    assert [f["label"] for f in listed] == ["Signup Source"]


def test_tags_page_and_reject_duplicates(sandbox: Sandbox, cc: requests.Session) -> None:
    # Given three tags
    for name in ("a", "b", "c"):
        assert cc.post(f"{sandbox.base_url}/contact_tags", json={"name": name}).status_code == 201

    # When we list them two at a time and create a duplicate
    first = cc.get(f"{sandbox.base_url}/contact_tags", params={"limit": 2}).json()
    second = cc.get(f"{sandbox.root_url}{first['_links']['next']['href']}").json()
    duplicate = cc.post(f"{sandbox.base_url}/contact_tags", json={"name": "A"})

    # Then the pages hold all three and the duplicate is a 409
    assert [t["name"] for t in first["tags"] + second["tags"]] == ["a", "b", "c"]
    assert "_links" not in second
    assert duplicate.status_code == 409


# --- bulk activities -------------------------------------------------------------------------------------


def test_json_import_creates_implicit_contacts_updates_sent_fields_and_skips_unsubscribed(
    sandbox: Sandbox, cc: requests.Session
) -> None:
    # Given an existing contact, an unsubscribed one and a deleted one, and a custom field
    sandbox.seed_contact("known@example.com", first_name="Kim", job_title="Chef", lists=["Old"])
    sandbox.seed_contact("quit@example.com", permission_to_send="unsubscribed")
    sandbox.seed_contact("ghost@example.com", deleted=True)
    sandbox.seed_custom_field("Favourite Dish")
    list_id = sandbox.seed_list("Import")

    # When a JSON import sends four rows
    created = cc.post(
        f"{sandbox.base_url}/activities/contacts_json_import",
        json={
            "import_data": [
                {"email": "fresh@example.com", "first_name": "Fay", "cf:Favourite_Dish": "soup"},
                {"email": "known@example.com", "last_name": "Kline"},
                {"email": "quit@example.com", "first_name": "Quinn"},
                {"email": "ghost@example.com"},
            ],
            "list_ids": [list_id],
        },
    )
    status = cc.get(f"{sandbox.root_url}{created.json()['_links']['self']['href']}").json()

    # Then the activity completed with the counts, and each contact got exactly what the rules say
    assert created.status_code == 201 and created.json()["state"] == "initialized"
    assert status["state"] == "completed"
    assert status["status"]["person_count"] == 4 and status["status"]["cannot_add_to_list_count"] == 1
    fresh = sandbox.contact_by_email("fresh@example.com")
    assert fresh is not None
    assert fresh["email_address"]["permission_to_send"] == "implicit"
    assert fresh["email_address"]["opt_in_source"] == "Account"
    assert fresh["custom_fields"][0]["value"] == "soup"
    known = sandbox.contact_by_email("known@example.com")
    assert known is not None
    assert (known["first_name"], known["last_name"], known["job_title"]) == ("Kim", "Kline", "Chef")
    assert known["list_memberships"] == [sandbox.seed_list("Old"), list_id]
    quit_ = sandbox.contact_by_email("quit@example.com")
    assert quit_ is not None and quit_["list_memberships"] == [] and quit_["first_name"] == "Quinn"
    assert quit_["email_address"]["permission_to_send"] == "unsubscribed"
    ghost = sandbox.contact_by_email("ghost@example.com")
    assert ghost is not None and "deleted_at" not in ghost and ghost["list_memberships"] == [list_id]


def test_json_import_counts_bad_rows_and_processes_after_its_delay() -> None:
    # Given activities that take 10 s (sandbox clock)
    with Sandbox(rate_limit_per_second=0, activity_delay=10) as sandbox:
        sandbox.clock.freeze()
        session = api(sandbox)
        list_id = sandbox.seed_list("Import")

        # When rows with a 51-character email and a bad address are imported, and we look before and after 10 s
        created = session.post(
            f"{sandbox.base_url}/activities/contacts_json_import",
            json={
                "import_data": [{"email": f"{'y' * 39}@example.com"}, {"email": "nope"}, {"email": "ok@example.com"}],
                "list_ids": [list_id],
            },
        ).json()
        url = f"{sandbox.base_url}/activities/{created['activity_id']}"
        before = session.get(url).json()
        imported_before = sandbox.contact_by_email("ok@example.com")
        sandbox.clock.advance(10)
        after = session.get(url).json()

        # Then nothing happened before; afterwards one contact was imported and two rows were reported
        assert before["state"] == "initialized" and imported_before is None
        assert after["state"] == "completed" and sandbox.contact_by_email("ok@example.com") is not None
        assert (after["status"]["error_count"], after["status"]["correctable_count"]) == (1, 1)
        assert after["status"]["person_count"] == 1 and len(after["activity_errors"]) == 2


def test_taggings_add_and_add_list_memberships_activities(sandbox: Sandbox, cc: requests.Session) -> None:
    # Given an active, a deleted and an unsubscribed contact, a tag and a list
    active = sandbox.seed_contact("a@example.com")
    deleted = sandbox.seed_contact("d@example.com", deleted=True)
    unsubscribed = sandbox.seed_contact("u@example.com", permission_to_send="unsubscribed")
    tag_id, list_id = sandbox.seed_tag("webinar"), sandbox.seed_list("Members")
    ids = [active, deleted, unsubscribed]

    # When all three are tagged and added to the list
    tagged = cc.post(
        f"{sandbox.base_url}/activities/contacts_taggings_add",
        json={"source": {"contact_ids": ids}, "tag_ids": [tag_id]},
    )
    listed = cc.post(
        f"{sandbox.base_url}/activities/add_list_memberships",
        json={"source": {"contact_ids": ids}, "list_ids": [list_id]},
    )
    listed_status = cc.get(f"{sandbox.base_url}/activities/{listed.json()['activity_id']}").json()

    # Then all are tagged; the deleted one is revived onto the list; the unsubscribed one is not added
    assert tagged.status_code == 201 and listed.status_code == 201
    for email in ("a@example.com", "d@example.com", "u@example.com"):
        stored = sandbox.contact_by_email(email)
        assert stored is not None and stored["taggings"] == [tag_id]
    revived = sandbox.contact_by_email("d@example.com")
    assert revived is not None and "deleted_at" not in revived and revived["list_memberships"] == [list_id]
    still_out = sandbox.contact_by_email("u@example.com")
    assert still_out is not None and still_out["list_memberships"] == []
    assert listed_status["status"]["items_completed_count"] == 3 and listed_status["status"]["error_count"] == 1
    assert len(listed_status["activity_errors"]) == 1


# --- device flow and authorization code + PKCE ---------------------------------------------------------------


@pytest.fixture
def oauth_sandbox() -> Iterator[Sandbox]:
    with Sandbox(rate_limit_per_second=0) as sandbox:
        sandbox.clock.freeze()
        yield sandbox


def _start_device_flow(sandbox: Sandbox) -> dict[str, Any]:
    response = requests.post(
        sandbox.device_authorize_url,
        data={"client_id": sandbox.client_id, "scope": "contact_data offline_access"},
        timeout=10,
    )
    assert response.status_code == 200
    return dict(response.json())


def _poll(sandbox: Sandbox, device_code: str) -> requests.Response:
    return token_call(
        sandbox, {"grant_type": DEVICE_GRANT, "device_code": device_code, "client_id": sandbox.client_id}, basic=False
    )


def test_device_flow_pending_slow_down_then_approved(oauth_sandbox: Sandbox) -> None:
    sandbox = oauth_sandbox
    # Given a device authorization request
    started = _start_device_flow(sandbox)
    interval = started["interval"]

    # When we poll before approval, poll again too fast, and poll after approval at the (new) interval
    pending = _poll(sandbox, started["device_code"])
    sandbox.clock.advance(1)
    too_fast = _poll(sandbox, started["device_code"])
    sandbox.approve_device(started["user_code"])
    sandbox.clock.advance(interval + 5)
    approved = _poll(sandbox, started["device_code"])
    sandbox.clock.advance(interval + 5)
    again = _poll(sandbox, started["device_code"])

    # Then the RFC 8628 errors come in order, the tokens work, and the device code is single-use
    assert started["verification_uri_complete"].endswith(started["user_code"])
    assert pending.json()["error"] == "authorization_pending"
    assert too_fast.json()["error"] == "slow_down"
    assert approved.status_code == 200 and {"access_token", "refresh_token"} <= set(approved.json())
    assert api(sandbox, approved.json()["access_token"]).get(f"{sandbox.base_url}/contacts").status_code == 200
    assert again.json()["error"] == "invalid_grant"


def test_device_flow_denied_and_expired(oauth_sandbox: Sandbox) -> None:
    sandbox = oauth_sandbox
    # Given two device requests: one the user denies, one nobody answers
    denied = _start_device_flow(sandbox)
    sandbox.clock.advance(1)
    ignored = _start_device_flow(sandbox)
    sandbox.deny_device(denied["user_code"])

    # When both are polled, the second after the code lifetime
    refused = _poll(sandbox, denied["device_code"])
    sandbox.clock.advance(ignored["expires_in"] + 1)
    expired = _poll(sandbox, ignored["device_code"])

    # Then access_denied and expired_token
    assert (refused.status_code, refused.json()["error"]) == (400, "access_denied")
    assert (expired.status_code, expired.json()["error"]) == (400, "expired_token")


def test_device_verification_page_and_auto_approve(oauth_sandbox: Sandbox) -> None:
    sandbox = oauth_sandbox
    # Given one request approved through the verification page, and auto-approval for the next
    started = _start_device_flow(sandbox)
    page = requests.get(started["verification_uri_complete"], timeout=10)
    sandbox.auto_approve_devices = True
    sandbox.clock.advance(1)
    auto = _start_device_flow(sandbox)

    # When both are polled
    first = _poll(sandbox, started["device_code"])
    sandbox.clock.advance(1)
    second = _poll(sandbox, auto["device_code"])

    # Then both get tokens
    assert page.status_code == 200
    assert first.status_code == 200 and second.status_code == 200


def _authorize(sandbox: Sandbox, **overrides: str) -> requests.Response:
    params = {
        "client_id": sandbox.client_id,
        "redirect_uri": "http://127.0.0.1:8765/callback",
        "response_type": "code",
        "scope": "contact_data offline_access",
        "state": "xyz",
    } | overrides
    return requests.get(sandbox.authorize_url, params=params, allow_redirects=False, timeout=10)


def test_authorization_code_with_pkce_happy_path_and_single_use(oauth_sandbox: Sandbox) -> None:
    sandbox = oauth_sandbox
    # Given a PKCE verifier and an approved authorization
    verifier = secrets.token_urlsafe(48)
    redirect = _authorize(sandbox, code_challenge=pkce_challenge(verifier), code_challenge_method="S256")
    query = parse_qs(urlsplit(redirect.headers["Location"]).query)
    exchange = {
        "grant_type": "authorization_code",
        "code": query["code"][0],
        "redirect_uri": "http://127.0.0.1:8765/callback",
        "code_verifier": verifier,
        "client_id": sandbox.client_id,
    }

    # When a public client (no secret) exchanges the code, then exchanges it again
    tokens = token_call(sandbox, exchange, basic=False)
    sandbox.clock.advance(1)
    replay = token_call(sandbox, exchange, basic=False)

    # Then the redirect carried code and state, the exchange gave tokens, and the replay is invalid_grant
    assert redirect.status_code == 302 and query["state"] == ["xyz"]
    assert tokens.status_code == 200 and "refresh_token" in tokens.json()
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"


def test_authorization_code_wrong_verifier_and_expired_code(oauth_sandbox: Sandbox) -> None:
    sandbox = oauth_sandbox
    # Given two authorizations with PKCE
    verifier = secrets.token_urlsafe(48)
    challenge = {"code_challenge": pkce_challenge(verifier), "code_challenge_method": "S256"}
    codes = [
        parse_qs(urlsplit(_authorize(sandbox, **challenge).headers["Location"]).query)["code"][0] for _ in range(2)
    ]
    base = {"grant_type": "authorization_code", "redirect_uri": "http://127.0.0.1:8765/callback"}

    # When one is exchanged with the wrong verifier and the other after 5 minutes (with the secret)
    wrong = token_call(sandbox, base | {"code": codes[0], "code_verifier": "x" * 50})
    sandbox.clock.advance(301)
    late = token_call(sandbox, base | {"code": codes[1], "code_verifier": verifier})

    # Then both are invalid_grant
    assert (wrong.status_code, wrong.json()["error"]) == (400, "invalid_grant")
    assert (late.status_code, late.json()["error"]) == (400, "invalid_grant")


def test_authorize_denied_redirects_with_access_denied(oauth_sandbox: Sandbox) -> None:
    sandbox = oauth_sandbox
    # Given the account owner says no
    sandbox.oauth_decision = "deny"

    # When the app asks for authorization, and separately with an unregistered redirect
    denied = _authorize(sandbox)
    foreign = _authorize(sandbox, redirect_uri="https://evil.example.com/cb")

    # Then the redirect carries error=access_denied and the state; the foreign redirect is refused outright
    query = parse_qs(urlsplit(denied.headers["Location"]).query)
    assert denied.status_code == 302
    assert query["error"] == ["access_denied"] and query["state"] == ["xyz"]
    assert foreign.status_code == 400


def test_authorization_code_without_offline_access_gives_no_refresh_token(oauth_sandbox: Sandbox) -> None:
    sandbox = oauth_sandbox
    # Given an authorization for contact_data only
    redirect = _authorize(sandbox, scope="contact_data")
    code = parse_qs(urlsplit(redirect.headers["Location"]).query)["code"][0]

    # When a confidential client exchanges the code
    tokens = token_call(
        sandbox,
        {"grant_type": "authorization_code", "code": code, "redirect_uri": "http://127.0.0.1:8765/callback"},
    )

    # Then there is an access token but no refresh token
    assert tokens.status_code == 200
    assert "access_token" in tokens.json() and "refresh_token" not in tokens.json()


# --- CLI -----------------------------------------------------------------------------------------------


def test_cli_prints_how_to_reach_the_sandbox_and_serves_it() -> None:
    # Given the CLI started on a free port
    with sandbox_cli("--seed-list", "Newsletter") as info:
        # When we use the printed token against the printed base URL
        response = bearer(info["access_token"]).get(f"{info['base_url']}/contact_lists", timeout=10)

        # Then the sandbox answers with the seeded list
        assert info["token_url"].endswith("/oauth2/default/v1/token") and info["client_secret"]
        assert response.status_code == 200
        assert [x["name"] for x in response.json()["lists"]] == ["Newsletter"]
