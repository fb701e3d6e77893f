"""The sandbox's bulk activities over real HTTP: lifecycle on the sandbox clock, import semantics, limits."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from local.cc_sandbox import Sandbox
from local.cc_sandbox.clock import iso


def api(sandbox: Sandbox) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {sandbox.issue_tokens()['access_token']}"
    return session


@pytest.fixture
def timed() -> Iterator[Sandbox]:
    """Activities wait 5 s, then take 2 s per row; the clock only moves when a test advances it."""
    with Sandbox(rate_limit_per_second=0, activity_delay=5, activity_item_seconds=2) as sandbox:
        sandbox.clock.freeze()
        yield sandbox


@pytest.fixture
def sandbox(cc_sandbox_unthrottled: Sandbox) -> Sandbox:
    return cc_sandbox_unthrottled


def post_import(session: requests.Session, sandbox: Sandbox, rows: list[dict[str, Any]], *lists: str) -> Any:
    return session.post(
        f"{sandbox.base_url}/activities/contacts_json_import", json={"import_data": rows, "list_ids": list(lists)}
    )


def activity(session: requests.Session, sandbox: Sandbox, created: requests.Response) -> dict[str, Any]:
    answer = session.get(f"{sandbox.root_url}{created.json()['_links']['self']['href']}")
    assert answer.status_code == 200
    return dict(answer.json())


def stored(sandbox: Sandbox, email: str) -> dict[str, Any]:
    contact = sandbox.contact_by_email(email)
    assert contact is not None, email
    return contact


# --- lifecycle -----------------------------------------------------------------------------------------------


def test_an_import_goes_initialized_processing_completed_on_the_sandbox_clock(timed: Sandbox) -> None:
    # Given an import of three rows posted at t0
    session, list_id = api(timed), timed.seed_list("Launch")
    t0 = timed.clock.time()
    rows = [{"email": f"p{i}@example.com"} for i in range(3)]
    created = post_import(session, timed, rows, list_id)

    # When we look at it as the clock moves: 0 s, 5 s (start), 7 s (one row), 9 s (two rows), 11 s (done)
    seen = [activity(session, timed, created)]
    for step in (5, 2, 2, 2):
        timed.clock.advance(step)
        seen.append(activity(session, timed, created))

    # Then the POST answered initialized, and the states, counters and timestamps follow the clock
    assert created.status_code == 201
    assert created.json()["state"] == "initialized" and created.json()["percent_done"] == 0
    assert [s["state"] for s in seen] == ["initialized", "processing", "processing", "processing", "completed"]
    assert [s["status"]["items_completed_count"] for s in seen] == [0, 0, 1, 2, 3]
    assert [s["percent_done"] for s in seen] == [0, 0, 33, 66, 100]
    assert [s["status"]["person_count"] for s in seen] == [0, 0, 1, 2, 3]
    assert "started_at" not in seen[0] and seen[1]["started_at"] == iso(t0 + 5)
    assert "completed_at" not in seen[3] and seen[4]["completed_at"] == iso(t0 + 11)
    assert [s["updated_at"] for s in seen] == [iso(t0), iso(t0 + 5), iso(t0 + 7), iso(t0 + 9), iso(t0 + 11)]
    assert {s["created_at"] for s in seen} == {iso(t0)}
    assert seen[4]["status"] == {
        "items_total_count": 3,
        "items_completed_count": 3,
        "person_count": 3,
        "error_count": 0,
        "correctable_count": 0,
        "cannot_add_to_list_count": 0,
        "list_count": 1,
    }
    assert seen[4]["_links"] == {"self": {"href": f"/v3/activities/{created.json()['activity_id']}"}}
    # and each contact was written when its row was due
    assert [stored(timed, f"p{i}@example.com")["updated_at"] for i in range(3)] == [
        iso(t0 + 7),
        iso(t0 + 9),
        iso(t0 + 11),
    ]


def test_a_row_is_not_applied_before_its_time(timed: Sandbox) -> None:
    # Given an import of two rows that has processed one
    session, list_id = api(timed), timed.seed_list("Launch")
    post_import(session, timed, [{"email": "first@example.com"}, {"email": "second@example.com"}], list_id)
    timed.clock.advance(7)

    # When we look at the contacts over HTTP
    found = session.get(f"{timed.base_url}/contacts", params={"status": "all"}).json()["contacts"]

    # Then only the first row exists so far
    assert [c["email_address"]["address"] for c in found] == ["first@example.com"]


def test_activities_of_an_account_run_one_after_another(timed: Sandbox) -> None:
    # Given two imports of two rows posted at the same time
    session, list_id = api(timed), timed.seed_list("Launch")
    t0 = timed.clock.time()
    first = post_import(session, timed, [{"email": "a1@example.com"}, {"email": "a2@example.com"}], list_id)
    second = post_import(session, timed, [{"email": "b1@example.com"}, {"email": "b2@example.com"}], list_id)

    # When the first has finished (5 + 2 x 2 s)
    timed.clock.advance(9)
    states = (activity(session, timed, first)["state"], activity(session, timed, second)["state"])
    timed.clock.advance(4)
    done = activity(session, timed, second)

    # Then the second started only when the first completed, and completed 4 s later
    assert states == ("completed", "processing")
    assert done["state"] == "completed" and done["started_at"] == iso(t0 + 9)
    assert done["completed_at"] == iso(t0 + 13)


def test_an_activity_can_be_made_to_fail_part_way(timed: Sandbox) -> None:
    # Given the next activity is told to fail after one row
    session, list_id = api(timed), timed.seed_list("Launch")
    timed.fail_next_activity(after_items=1)

    # When an import of three rows runs to its end
    created = post_import(session, timed, [{"email": f"f{i}@example.com"} for i in range(3)], list_id)
    timed.clock.advance(60)
    status = activity(session, timed, created)

    # Then it ended failed with one row applied, and says so
    assert status["state"] == "failed" and "completed_at" not in status
    assert status["status"]["items_completed_count"] == 1 and status["percent_done"] == 33
    assert status["activity_errors"] == ["The activity failed after processing 1 of 3 items."]
    assert sandbox_emails(timed) == ["f0@example.com"]


def sandbox_emails(sandbox: Sandbox) -> list[str]:
    return sorted(c["email_address"]["address"] for c in sandbox.all_contacts())


def test_get_activities_lists_the_last_ten_days_newest_first_by_state(timed: Sandbox) -> None:
    # Given an old completed import, a completed one and one still processing (a token that outlives them)
    timed.access_token_ttl = 30 * 86400
    session, list_id = api(timed), timed.seed_list("Launch")
    old = post_import(session, timed, [{"email": "old@example.com"}], list_id).json()["activity_id"]
    timed.clock.advance(10 * 86400 - 100)
    done = post_import(session, timed, [{"email": "done@example.com"}], list_id).json()["activity_id"]
    timed.clock.advance(95)
    running = post_import(session, timed, [{"email": "a@example.com"}, {"email": "b@example.com"}], list_id)
    timed.clock.advance(6)  # "old" is now more than 10 days old; "running" has started its first row

    # When the activities are listed (all, one per page, by state)
    listed = session.get(f"{timed.base_url}/activities").json()
    page1 = session.get(f"{timed.base_url}/activities", params={"limit": 1}).json()
    page2 = session.get(f"{timed.root_url}{page1['_links']['next']['href']}").json()
    processing = session.get(f"{timed.base_url}/activities", params={"state": "processing"}).json()
    bad_state = session.get(f"{timed.base_url}/activities", params={"state": "initialized"})
    bad_limit = session.get(f"{timed.base_url}/activities", params={"limit": 501})
    gone = session.get(f"{timed.base_url}/activities/{old}")

    # Then the old one is gone, the others come newest first, and the filters and paging hold
    running_id = running.json()["activity_id"]
    assert [a["activity_id"] for a in listed["activities"]] == [running_id, done]
    assert "_links" not in listed
    assert [a["activity_id"] for a in page1["activities"] + page2["activities"]] == [running_id, done]
    assert [a["activity_id"] for a in processing["activities"]] == [running_id]
    assert bad_state.status_code == 400 and bad_limit.status_code == 400
    assert gone.status_code == 404


# --- import semantics ----------------------------------------------------------------------------------------


def test_import_semantics_new_existing_deleted_and_unsubscribed(sandbox: Sandbox) -> None:
    # Given an existing contact with data, a deleted one, an unsubscribed one, a custom field and a list
    session = api(sandbox)
    sandbox.seed_contact("known@example.com", first_name="Kim", job_title="Chef", phone_numbers=[], lists=["Old"])
    sandbox.seed_contact("gone@example.com", first_name="Gus", deleted=True)
    sandbox.seed_contact("quit@example.com", permission_to_send="unsubscribed", lists=["Old"])
    sandbox.seed_custom_field("Favourite Dish")
    old_list, list_id = sandbox.seed_list("Old"), sandbox.seed_list("Launch")

    # When an import sends a new contact, a surname (and blanks) for the known one, the deleted and unsubscribed ones
    created = post_import(
        session,
        sandbox,
        [
            {"email": "new@example.com", "first_name": "Nia", "cf:Favourite_Dish": "soup", "home_phone": "555-0100"},
            {"email": "KNOWN@example.com", "last_name": "Kline", "job_title": "", "first_name": None},
            {"email": "gone@example.com"},
            {"email": "quit@example.com", "company_name": "Quit Co"},
        ],
        list_id,
    )
    status = activity(session, sandbox, created)

    # Then the counters say 4 people, one of whom could not be added to the list
    assert status["state"] == "completed" and status["activity_errors"] == []
    assert status["status"]["person_count"] == 4 and status["status"]["cannot_add_to_list_count"] == 1
    assert (status["status"]["error_count"], status["status"]["correctable_count"]) == (0, 0)
    # the new contact is implicit, from the account, with what was sent
    new = stored(sandbox, "new@example.com")
    assert new["email_address"]["permission_to_send"] == "implicit"
    assert new["email_address"]["opt_in_source"] == "Account" and new["create_source"] == "Account"
    assert new["first_name"] == "Nia" and new["custom_fields"][0]["value"] == "soup"
    assert [(p["kind"], p["phone_number"]) for p in new["phone_numbers"]] == [("home", "555-0100")]
    assert new["list_memberships"] == [list_id]
    # the existing contact got only the surname; blank and null values blanked nothing; the list was added
    known = stored(sandbox, "known@example.com")
    assert (known["first_name"], known["last_name"], known["job_title"]) == ("Kim", "Kline", "Chef")
    assert known["email_address"]["address"] == "known@example.com"
    assert known["list_memberships"] == [old_list, list_id]
    # the deleted contact is back, on the import's list only, its name kept
    gone = stored(sandbox, "gone@example.com")
    assert "deleted_at" not in gone and gone["list_memberships"] == [list_id] and gone["first_name"] == "Gus"
    # the unsubscribed contact stays unsubscribed and off the new list, though its company was updated
    quit_ = stored(sandbox, "quit@example.com")
    assert quit_["email_address"]["permission_to_send"] == "unsubscribed"
    assert quit_["list_memberships"] == [old_list] and quit_["company_name"] == "Quit Co"


def test_a_deleted_unsubscribed_contact_stays_deleted_and_unsubscribed(sandbox: Sandbox) -> None:
    session, list_id = api(sandbox), sandbox.seed_list("Launch")
    sandbox.seed_contact("both@example.com", permission_to_send="unsubscribed", deleted=True)
    created = post_import(session, sandbox, [{"email": "both@example.com"}], list_id)
    status = activity(session, sandbox, created)
    both = stored(sandbox, "both@example.com")
    assert status["status"]["cannot_add_to_list_count"] == 1
    assert "deleted_at" in both and both["email_address"]["permission_to_send"] == "unsubscribed"
    assert both["list_memberships"] == []


def test_refused_rows_are_counted_and_explained_and_the_rest_imported(sandbox: Sandbox) -> None:
    # Given an account with one custom field
    session, list_id = api(sandbox), sandbox.seed_list("Launch")
    sandbox.seed_custom_field("Colour")
    too_many_fields = {"email": "wide@example.com"} | {f"cf:f{i}": "x" for i in range(26)}
    too_many_phones = {"email": "phones@example.com", "phone": "1", "home_phone": "2", "work_phone": "3"}
    too_many_phones["mobile_phone"] = "4"

    # When rows with a bad email, an unknown custom field, 26 custom fields and 4 phones are imported with a good one
    created = post_import(
        session,
        sandbox,
        [
            {"email": "not-an-email"},
            {"email": "cf@example.com", "cf:Flavour": "mint"},
            too_many_fields,
            too_many_phones,
            {"email": "fine@example.com", "cf:Colour": "red"},
        ],
        list_id,
    )
    status = activity(session, sandbox, created)

    # Then one row is correctable, three are errors with their reasons, and only the good row exists
    assert status["state"] == "completed"
    assert status["status"]["items_total_count"] == status["status"]["items_completed_count"] == 5
    assert (status["status"]["person_count"], status["status"]["correctable_count"]) == (1, 1)
    assert status["status"]["error_count"] == 3
    errors = status["activity_errors"]
    assert errors[0].startswith("Row 1:") and "email" in errors[0]
    assert any(e.startswith("Row 2:") and "'Flavour' does not exist" in e for e in errors)
    assert any(e.startswith("Row 3:") and "at most 25 custom fields" in e for e in errors)
    assert any(e.startswith("Row 4:") and "at most 3 phone numbers" in e for e in errors)
    assert sandbox_emails(sandbox) == ["fine@example.com"]


def test_a_row_that_would_put_a_contact_on_51_lists_is_refused_whole(sandbox: Sandbox) -> None:
    # Given a contact already on 50 lists
    full = [sandbox.seed_list(f"List {i}") for i in range(50)]
    sandbox.seed_contact("full@example.com", first_name="Old", list_memberships=full)
    extra = sandbox.seed_list("One more")

    # When a row for that contact is imported onto another list
    session = api(sandbox)
    created = post_import(session, sandbox, [{"email": "full@example.com", "first_name": "New"}], extra)
    sandbox.process_activities()
    status = activity(session, sandbox, created)

    # Then the row is an error, nothing of it applied
    assert (status["status"]["person_count"], status["status"]["error_count"]) == (0, 1)
    assert status["activity_errors"] == ["Row 1: a contact can belong to at most 50 lists."]
    contact = stored(sandbox, "full@example.com")
    assert contact["first_name"] == "Old" and sorted(contact["list_memberships"]) == sorted(full)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"import_data": [{"email": "a@example.com"}]}, "list_ids"),
        ({"import_data": [{"email": "a@example.com"}], "list_ids": []}, "list_ids"),
        ({"import_data": [{"email": "a@example.com"}], "list_ids": ["LIST"] * 51}, "list_ids"),
        ({"import_data": [], "list_ids": ["LIST"]}, "import_data"),
        ({"import_data": [{"email": "a@example.com", "nickname": "A"}], "list_ids": ["LIST"]}, "nickname"),
    ],
)
def test_a_bad_import_request_is_a_400_and_queues_nothing(sandbox: Sandbox, body: dict[str, Any], problem: str) -> None:
    list_id = sandbox.seed_list("Launch")
    sent = json.loads(json.dumps(body).replace("LIST", list_id))
    answer = api(sandbox).post(f"{sandbox.base_url}/activities/contacts_json_import", json=sent)
    assert answer.status_code == 400
    assert problem in answer.json()[0]["error_message"]
    assert sandbox.queued_activities() == 0 and sandbox.all_contacts() == []


def test_verification_by_updated_after_finds_every_row_the_import_touched(sandbox: Sandbox) -> None:
    # Given contacts that exist before the import, one of them deleted and one unsubscribed
    session, list_id = api(sandbox), sandbox.seed_list("Launch")
    sandbox.clock.freeze()
    for email in ("untouched@example.com", "known@example.com"):
        sandbox.seed_contact(email)
    sandbox.seed_contact("gone@example.com", deleted=True)
    sandbox.seed_contact("quit@example.com", permission_to_send="unsubscribed")
    sandbox.clock.advance(1)
    start = iso(sandbox.clock.time())
    sandbox.clock.advance(1)

    # When an import touches all but one, and we page through updated_after=<start>&status=all two at a time
    emails = ["new@example.com", "known@example.com", "gone@example.com", "quit@example.com"]
    post_import(session, sandbox, [{"email": e} for e in emails], list_id)
    seen: list[str] = []
    page = session.get(
        f"{sandbox.base_url}/contacts", params={"updated_after": start, "status": "all", "limit": 2}
    ).json()
    while True:
        seen += [c["email_address"]["address"] for c in page["contacts"]]
        if "_links" not in page:
            break
        page = session.get(f"{sandbox.root_url}{page['_links']['next']['href']}").json()

    # Then exactly the four touched contacts are found
    assert sorted(seen) == sorted(emails)


# --- limits --------------------------------------------------------------------------------------------------


def test_rows_past_40000_are_dropped_silently(sandbox: Sandbox) -> None:
    # When 40,001 rows are imported in one call
    session, list_id = api(sandbox), sandbox.seed_list("Launch")
    rows = [{"email": f"r{i}@example.com"} for i in range(40_001)]
    created = post_import(session, sandbox, rows, list_id)
    status = activity(session, sandbox, created)

    # Then the call succeeded and the first 40,000 were imported, the last one not
    assert created.status_code == 201 and created.json()["status"]["items_total_count"] == 40_000
    assert status["state"] == "completed" and status["status"]["person_count"] == 40_000
    assert status["activity_errors"] == []
    assert sandbox.contact_by_email("r39999@example.com") is not None
    assert sandbox.contact_by_email("r40000@example.com") is None


def test_a_body_over_4_mb_keeps_only_the_rows_that_end_within_4000000_bytes(sandbox: Sandbox) -> None:
    # Given rows padded with JSON whitespace to 1,000 bytes each, 4,100 of them: 4.1 MB
    session, list_id = api(sandbox), sandbox.seed_list("Launch")
    head = '{"list_ids": ["' + list_id + '"], "import_data": ['
    rows = [f'{{"email": "b{i:05d}@example.com"}}' for i in range(4_100)]
    length = len(rows[0])
    body = head + "".join(row + ",".ljust(1_000 - length) for row in rows).rstrip(", ") + "]}"
    # row i's closing brace ends at len(head) + i * 1,000 + length: these are the rows that end within 4,000,000
    fitting = (4_000_000 - len(head) - length) // 1_000 + 1

    # When it is posted as is
    created = session.post(
        f"{sandbox.base_url}/activities/contacts_json_import",
        data=body.encode(),
        headers={"Content-Type": "application/json"},
    )
    status = activity(session, sandbox, created)

    # Then the call succeeded and exactly the rows that fit were imported
    assert len(body.encode()) > 4_000_000
    assert created.status_code == 201 and status["status"]["items_total_count"] == fitting
    assert status["status"]["person_count"] == fitting < 4_100
    assert sandbox.contact_by_email(f"b{fitting - 1:05d}@example.com") is not None
    assert sandbox.contact_by_email(f"b{fitting:05d}@example.com") is None


def test_the_byte_cut_counts_bytes_not_characters(sandbox: Sandbox) -> None:
    # Given 10,000 rows of names in 4-byte characters: about 4.7 MB but only 1.7 million characters
    session, list_id = api(sandbox), sandbox.seed_list("Launch")
    name = "\U0001f600" * 50
    head = json.dumps({"list_ids": [list_id]})[:-1] + ', "import_data": ['
    rows = [
        json.dumps({"email": f"u{i:05d}@example.com", "first_name": name, "last_name": name}, ensure_ascii=False)
        for i in range(10_000)
    ]
    body = head + ", ".join(rows) + "]}"
    end, fitting = len(head.encode()), 0
    for row in rows:  # count the rows whose closing brace lies within the first 4,000,000 bytes
        end += len(row.encode())
        fitting += end <= 4_000_000
        end += 2

    # When it is posted
    created = session.post(
        f"{sandbox.base_url}/activities/contacts_json_import",
        data=body.encode(),
        headers={"Content-Type": "application/json"},
    )
    status = activity(session, sandbox, created)

    # Then the rows kept are those within 4,000,000 bytes, though every row is within 4,000,000 characters
    assert len(body.encode()) > 4_000_000 > len(body)
    assert created.json()["status"]["items_total_count"] == status["status"]["person_count"] == fitting < 10_000
    assert stored(sandbox, f"u{fitting - 1:05d}@example.com")["first_name"] == name


def test_the_1001st_queued_activity_is_refused_with_a_429_that_counts_as_a_call(timed: Sandbox) -> None:
    # Given 1,000 activities queued (the clock is frozen, so none starts)
    session, list_id = api(timed), timed.seed_list("Launch")
    answers = [post_import(session, timed, [{"email": f"q{i}@example.com"}], list_id) for i in range(1_000)]
    used = timed.quota_used()

    # When one more import and one list activity are posted, and one activity then finishes
    refused = post_import(session, timed, [{"email": "late@example.com"}], list_id)
    refused_list = session.post(
        f"{timed.base_url}/activities/add_list_memberships",
        json={"source": {"all_active_contacts": True}, "list_ids": [list_id]},
    )
    timed.clock.advance(7)  # the first: 5 s waiting + 2 s for its row
    accepted = post_import(session, timed, [{"email": "later@example.com"}], list_id)

    # Then all 1,000 were accepted, the two refused with 429 (each one call of the quota), then one more fits
    assert {a.status_code for a in answers} == {201}
    assert refused.status_code == refused_list.status_code == 429
    assert refused.json()[0]["error_key"] == "activities.api.too_many_requests"
    assert timed.quota_used() == used + 2 + 1
    assert accepted.status_code == 201 and timed.queued_activities() == 1_000


@pytest.fixture
def away_from_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local time zone is New York for the test (so "no offset" cannot pass as local time)."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_contacts_collection_time_filters_are_strict_at_milliseconds_and_utc(
    sandbox: Sandbox, away_from_utc: None
) -> None:
    # Given contacts updated at milliseconds 0, 1 and 2 of a whole second (the clock frozen)
    session = api(sandbox)
    sandbox.clock.freeze()
    sandbox.clock.advance(-(sandbox.clock.time() % 1))
    second = str(iso(sandbox.clock.time()))[:-5]  # "YYYY-MM-DDTHH:MM:SS"
    for i, step in enumerate((0, 0.0015, 0.001)):  # at 0, 1.5 and 2.5 ms: shown as .000, .001 and .002
        sandbox.clock.advance(step)
        sandbox.seed_contact(f"t{i}@example.com")

    def emails(**params: str) -> list[str]:
        answer = session.get(f"{sandbox.base_url}/contacts", params=params)
        assert answer.status_code == 200, answer.text
        return [c["email_address"]["address"] for c in answer.json()["contacts"]]

    # When we ask for contacts updated after t0, after t0 + 1 ms, before t0 + 2 ms, and with no offset
    after_t0 = emails(updated_after=f"{second}.000Z")
    after_1 = emails(updated_after=f"{second}.001Z")
    before_2 = emails(updated_before=f"{second}.002Z")
    naive = emails(updated_after=f"{second}.000")
    shown = [stored(sandbox, f"t{i}@example.com")["updated_at"] for i in range(3)]

    # Then "after" and "before" exclude the bound itself, and a time without an offset is UTC
    assert shown == [f"{second}.000Z", f"{second}.001Z", f"{second}.002Z"]
    assert after_t0 == ["t1@example.com", "t2@example.com"]
    assert after_1 == ["t2@example.com"]
    assert before_2 == ["t0@example.com", "t1@example.com"]
    assert naive == after_t0


def test_contacts_collection_paging_is_strict(sandbox: Sandbox) -> None:
    # Given 3 contacts, one of them deleted
    session = api(sandbox)
    for email in ("a@example.com", "b@example.com"):
        sandbox.seed_contact(email)
    sandbox.seed_contact("c@example.com", deleted=True)
    url = f"{sandbox.base_url}/contacts"

    # When we page with status=all one at a time, and try limits and a cursor with another parameter
    first = session.get(url, params={"status": "all", "limit": 1}).json()
    href = f"{sandbox.root_url}{first['_links']['next']['href']}"
    mixed = session.get(href, params={"limit": 2})
    pages = [first]
    while "_links" in pages[-1]:
        pages.append(session.get(f"{sandbox.root_url}{pages[-1]['_links']['next']['href']}").json())
    default = session.get(url).json()
    limits = [session.get(url, params={"limit": n}).status_code for n in (0, 500, 501)]

    # Then all three come one per page with the last page unlinked; without status the deleted one is hidden
    assert [c["email_address"]["address"] for p in pages for c in p["contacts"]] == [
        "a@example.com",
        "b@example.com",
        "c@example.com",
    ]
    assert [c["email_address"]["address"] for c in default["contacts"]] == ["a@example.com", "b@example.com"]
    assert mixed.status_code == 400 and "cursor" in mixed.json()[0]["error_message"]
    assert limits == [400, 200, 400]
