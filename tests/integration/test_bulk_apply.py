"""The bulk core against the sandbox over HTTP: the same backlog applied per contact and in bulk ends alike.

Each test seeds two sandboxes the same way, applies the backlog per contact in one and through `apply_in_bulk`
in the other, and compares what the sandboxes stored (docs/architecture.md §11 lists what is not compared).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from local.cc_sandbox import Sandbox, json_import
from signup_relay.bulk import BulkPath, BulkRun, apply_in_bulk
from signup_relay.bulk.apply import BulkLimits
from signup_relay.bulk.rows import CONSENT_FIELD_LABEL
from signup_relay.errors import PermanentError
from signup_relay.models import Outcome, Signup, UpsertResult
from signup_relay.routes import Consent
from signup_relay.upsert.policy import upsert_contact
from tests.bulk_support import Account, connect, differences, mixed_signups, seed_people, signup


@pytest.fixture
def twins() -> Iterator[tuple[Sandbox, Sandbox]]:
    with Sandbox(rate_limit_per_second=0) as first, Sandbox(rate_limit_per_second=0) as second:
        yield first, second


def per_contact_of(account: Account) -> Any:
    def apply(one: Signup) -> UpsertResult:
        return upsert_contact(one, client=account.client, names=account.names)

    return apply


def no_sleep(seconds: float) -> None:
    pass


def bulk_apply(account: Account, backlog: list[Signup], **overrides: Any) -> BulkRun:
    """`apply_in_bulk` over the account's own client, names and per-contact path, without sleeping."""
    wiring: dict[str, Any] = {
        "client": account.client,
        "names": account.names,
        "per_contact": per_contact_of(account),
        "sleep": no_sleep,
    }
    return apply_in_bulk(backlog, **{**wiring, **overrides})


def test_a_mixed_backlog_ends_as_the_per_contact_path_leaves_it(twins: tuple[Sandbox, Sandbox]) -> None:
    # Given two accounts holding the same people (rich, deleted, unsubscribed, deleted and unsubscribed)
    reference, bulk = twins
    for sandbox in twins:
        seed_people(sandbox, "p", 3)
    backlog = mixed_signups("p", 3) + [signup("not-an-address", Consent.IMPLICIT)]
    # When one applies the backlog per contact and the other in bulk
    ref_account, bulk_account = connect(reference), connect(bulk)
    expected = [per_contact_of(ref_account)(one) for one in backlog]
    run = bulk_apply(bulk_account, backlog)
    # Then every contact is stored alike
    assert differences(reference, bulk, [s.email for s in backlog]) == {}
    # And every sign-up has the outcome the per-contact path names
    assert [r.outcome for r in run.results] == [r.outcome for r in expected]
    paths = {one.email: got.path for one, got in zip(backlog, run.results, strict=True)}
    assert paths["p-new-1@example.com"] is BulkPath.IMPORTED  # implicit
    assert paths["p-new-0@example.com"] is BulkPath.PER_CONTACT  # explicit
    assert paths["p-gone-1@example.com"] is BulkPath.PER_CONTACT  # deleted and unsubscribed: no write
    assert paths["p-unsub-1@example.com"] is BulkPath.IMPORTED
    assert paths["p-deleted-1@example.com"] is BulkPath.IMPORTED
    assert run.activity_ids and not run.quota_exceeded
    # And the evidence of an imported sign-up is kept in the consent field
    contact = bulk.contact_by_email("p-new-1@example.com")
    assert contact is not None
    labels = {bulk.store.custom_fields[f["custom_field_id"]].label: f["value"] for f in contact["custom_fields"]}
    assert "203.0.113.9" in labels[CONSENT_FIELD_LABEL]
    assert contact["email_address"]["permission_to_send"] == "implicit"


def test_outcomes_of_imported_rows_are_truthful(twins: tuple[Sandbox, Sandbox]) -> None:
    # Given an account with a deleted, an unsubscribed and an active contact
    _, bulk = twins
    seed_people(bulk, "t", 1)
    account = connect(bulk)
    backlog = [signup(f"t-{kind}-0@example.com") for kind in ("new", "rich", "deleted", "unsub")]
    # When they sign up implicitly in bulk
    run = bulk_apply(account, backlog)
    # Then each is imported with the outcome the per-contact path would name
    assert [r.path for r in run.results] == [BulkPath.IMPORTED] * 4
    assert [r.outcome for r in run.results] == [
        Outcome.CREATED,
        Outcome.UPDATED,
        Outcome.REVIVED,
        Outcome.KEPT_UNSUBSCRIBED,
    ]
    assert all(r.activity_id == run.activity_ids[0] for r in run.results)
    unsub = bulk.contact_by_email("t-unsub-0@example.com")
    assert unsub is not None and unsub["email_address"]["permission_to_send"] == "unsubscribed"
    assert unsub["list_memberships"] == []


def test_a_row_the_import_drops_is_applied_per_contact(
    twins: tuple[Sandbox, Sandbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an import that silently drops its last row (the sandbox's own cut past 40,000 rows, lowered to one)
    monkeypatch.setattr(json_import, "MAX_IMPORT_ROWS", 1)
    _, bulk = twins
    bulk.seed_list("News")
    account = connect(bulk)
    lost = "dropped@example.com"
    backlog = [signup("kept@example.com", first_name="Kim"), signup(lost, first_name="Dee")]
    calls: list[str] = []

    def per_contact(one: Signup) -> UpsertResult:
        calls.append(one.email)
        return per_contact_of(account)(one)

    # When the backlog is applied in bulk
    run = bulk_apply(account, backlog, per_contact=per_contact)
    # Then the dropped row was not taken as applied: it went per contact and is stored
    assert calls == [lost]
    assert [r.path for r in run.results] == [BulkPath.IMPORTED, BulkPath.PER_CONTACT]
    stored = bulk.contact_by_email(lost)
    assert stored is not None and stored["first_name"] == "Dee"


def test_two_submissions_of_one_person_the_last_wins(twins: tuple[Sandbox, Sandbox]) -> None:
    # Given one person submitting twice in one burst
    _, bulk = twins
    bulk.seed_list("News")
    bulk.seed_list("Events")
    account = connect(bulk)
    backlog = [
        signup("twice@example.com", first_name="Old", company_name="Kept Co"),
        signup("twice@example.com", first_name="New", lists=("Events",)),
    ]
    # When applied in bulk
    run = bulk_apply(account, backlog)
    # Then one row carried both: the later name wins, the earlier company stays, the lists add up
    assert [r.path for r in run.results] == [BulkPath.MERGED, BulkPath.IMPORTED]
    stored = bulk.contact_by_email("twice@example.com")
    assert stored is not None
    assert (stored["first_name"], stored["company_name"]) == ("New", "Kept Co")
    assert sorted(bulk.store.lists[i].name for i in stored["list_memberships"]) == ["Events", "News"]


def test_the_bulk_path_costs_a_fraction_of_the_per_contact_calls(twins: tuple[Sandbox, Sandbox]) -> None:
    # Given 60 new implicit sign-ups
    _, bulk = twins
    bulk.seed_list("News")
    account = connect(bulk)
    backlog = [signup(f"n{n}@example.com", first_name="N") for n in range(60)]
    # When applied in bulk
    run = bulk_apply(account, backlog)
    # Then all are imported in one activity, for well under one call a sign-up (per contact: 2 each)
    assert {r.path for r in run.results} == {BulkPath.IMPORTED}
    assert len(run.activity_ids) == 1
    assert run.calls <= 10
    assert len(bulk.all_contacts()) == 60


@pytest.mark.parametrize("evidence_field_exists", [True, False], ids=["evidence-field-exists", "created-in-the-run"])
def test_custom_field_names_come_from_the_name_directorys_listing(
    twins: tuple[Sandbox, Sandbox], evidence_field_exists: bool
) -> None:
    # Given an account with a list and a custom field (and the consent evidence field, or not yet)
    _, bulk = twins
    bulk.seed_list("News")
    bulk.seed_custom_field("Favourite colour")
    if evidence_field_exists:
        bulk.seed_custom_field(CONSENT_FIELD_LABEL)
    account = connect(bulk)
    backlog = [signup(f"f{n}@example.com", custom_fields={"Favourite colour": "blue"}) for n in range(5)]
    # When sign-ups that set the field and bring consent evidence are applied in bulk
    bulk.clear_request_log()
    run = bulk_apply(account, backlog)
    # Then the custom fields were listed once: their API names come from the directory's listing (or creation)
    log = [(r["method"], r["path"]) for r in bulk.request_log]
    assert log.count(("GET", "/v3/contact_custom_fields")) == 1
    assert log.count(("POST", "/v3/contact_custom_fields")) == (0 if evidence_field_exists else 1)
    # And the run cost the lists, the custom fields (and the evidence field's creation), the state scan, one
    # import, one poll and the read-back, as the sandbox counted them
    assert run.calls == len(log) == (6 if evidence_field_exists else 7)
    # And every row was imported, the field's value stored under its id
    assert {r.path for r in run.results} == {BulkPath.IMPORTED}
    stored = bulk.contact_by_email("f0@example.com")
    assert stored is not None
    labels = {bulk.store.custom_fields[f["custom_field_id"]].label: f["value"] for f in stored["custom_fields"]}
    assert labels["Favourite colour"] == "blue" and "203.0.113.9" in labels[CONSENT_FIELD_LABEL]


class FailingReadBack:
    """The real client, but the read-back after the import (`updated_after`) fails for good."""

    def __init__(self, account: Account) -> None:
        self._client = account.client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def iter_contacts(self, params: Mapping[str, str | int]) -> Iterator[dict[str, Any]]:
        if "updated_after" in params:
            raise PermanentError("read-back refused")
        return self._client.iter_contacts(params)


# (the call that fails with a 400, None for the read-back; the note it leaves; the path the sign-ups take)
FAILURES: dict[str, tuple[tuple[str, str] | None, str, BulkPath]] = {
    "planning": (("GET", "/v3/contact_lists"), "planning failed", BulkPath.PER_CONTACT),
    "evidence field": (("POST", "/v3/contact_custom_fields"), "evidence field lookup failed", BulkPath.PER_CONTACT),
    "state scan": (("GET", "/v3/contacts"), "state scan failed", BulkPath.PER_CONTACT),
    "import": (("POST", "/v3/activities/contacts_json_import"), "import failed", BulkPath.PER_CONTACT),
    "polling": (("GET", "/v3/activities/"), "polling failed", BulkPath.IMPORTED),
    "read-back": (None, "read-back failed", BulkPath.PER_CONTACT),
    "tagging": (("POST", "/v3/activities/contacts_taggings_add"), "tagging failed", BulkPath.PER_CONTACT),
}


@pytest.mark.parametrize("phase", list(FAILURES))
def test_a_call_that_fails_sends_its_rows_per_contact_and_nothing_is_lost(
    twins: tuple[Sandbox, Sandbox], phase: str
) -> None:
    # Given three tagged sign-ups with consent evidence, and one call of the bulk path that fails for good
    _, bulk = twins
    bulk.seed_list("News")
    account = connect(bulk)
    backlog = [signup(f"x{n}@example.com", first_name=f"X{n}", tags=("Launch",)) for n in range(3)]
    fault, note, path = FAILURES[phase]
    if fault is not None:
        method, prefix = fault
        bulk.inject_faults(status=400, count=1, path_prefix=prefix, method=method)
    # When applied in bulk
    run = bulk_apply(account, backlog, client=FailingReadBack(account) if fault is None else account.client)
    # Then the run went on: every sign-up took the expected path and is stored, tagged, as sent
    assert [r.path for r in run.results] == [path] * 3 and not run.quota_exceeded
    for n in range(3):
        stored = bulk.contact_by_email(f"x{n}@example.com")
        assert stored is not None and stored["first_name"] == f"X{n}"
        assert [bulk.store.tags[t].name for t in stored["taggings"]] == ["Launch"]
    # And the run says which call failed
    assert any(note in line for line in run.notes), run.notes


def test_more_deleted_and_unsubscribed_contacts_than_the_scan_reads_send_the_run_per_contact(
    twins: tuple[Sandbox, Sandbox],
) -> None:
    # Given an account holding one unsubscribed contact, and a state scan allowed to read none
    _, bulk = twins
    bulk.seed_contact("gone@example.com", permission_to_send="unsubscribed", lists=["News"])
    account = connect(bulk)
    backlog = [signup(f"s{n}@example.com", first_name=f"S{n}") for n in range(2)]
    # When applied in bulk
    run = bulk_apply(account, backlog, limits=BulkLimits(state_scan_max_pages=0))
    # Then nothing was imported: both went per contact and are stored, and the note says why
    assert [r.path for r in run.results] == [BulkPath.PER_CONTACT] * 2 and run.activity_ids == ()
    assert all(bulk.contact_by_email(f"s{n}@example.com") for n in range(2))
    assert run.notes == ("state scan failed (too_many_to_scan): 2 rows per contact",)


def test_contacts_stored_with_another_case_are_found_by_the_scan_and_the_read_back(
    twins: tuple[Sandbox, Sandbox],
) -> None:
    # Given an unsubscribed and a deleted contact stored with capitals in their addresses
    _, bulk = twins
    bulk.seed_list("News")
    bulk.seed_contact("Una.Sub@Example.COM", permission_to_send="unsubscribed")
    bulk.seed_contact("Del.Eted@Example.COM", deleted=True)
    account = connect(bulk)
    backlog = [signup("una.sub@example.com", first_name="Una"), signup("del.eted@example.com", first_name="Del")]
    # When they sign up again in lower case, in bulk
    run = bulk_apply(account, backlog)
    # Then both were imported and matched by their normalised address before and after the import
    assert [r.path for r in run.results] == [BulkPath.IMPORTED] * 2
    assert [r.outcome for r in run.results] == [Outcome.KEPT_UNSUBSCRIBED, Outcome.REVIVED]
    una, deleted = bulk.contact_by_email("una.sub@example.com"), bulk.contact_by_email("del.eted@example.com")
    assert una is not None and una["email_address"]["permission_to_send"] == "unsubscribed"
    assert deleted is not None and not deleted.get("deleted_at") and deleted["first_name"] == "Del"
