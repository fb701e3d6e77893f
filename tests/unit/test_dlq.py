"""dlq: list, show, replay and purge against moto's FIFO queues (no Constant Contact involved)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws
from msgspec.structs import replace

from local.aws_resources import LocalResources, create_queues, reset_relay_caches
from signup_relay.aws.dead_letter_reader import DeadLetterReader
from signup_relay.aws.dead_letters import DeadLetterQueue
from signup_relay.aws.queue import SignupQueue
from signup_relay.emails import contact_key
from signup_relay.errors import ConfigError
from signup_relay.models import FailureRecord, QueuedSignup, Signup, decode, to_json
from signup_relay.ops.dlq import cli as dlq_cli
from signup_relay.ops.dlq.cli import format_entry, format_listing, format_replay, region_of, resolve_queue_urls
from signup_relay.ops.dlq.cli import main as dlq_main
from signup_relay.ops.dlq.entries import mask_text
from signup_relay.ops.dlq.purge import purge_dead_letters
from signup_relay.ops.dlq.replay import ReplayReport, replay_dead_letters
from signup_relay.ops.dlq.selection import Selection, find_dead_letter, list_dead_letters
from signup_relay.routes import Routes, UpsertOptions, parse_routes

NOW = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
ADA = Signup(email="ada.lovelace@example.com", first_name="Ada", route="generic", source="generic", submitted_at=NOW)
GRACE = Signup(email="grace@example.org", route="typeform-newsletter", source="typeform", submitted_at=NOW)
# A route that looks for the email in a field the form does not send (the mistake), and the fixed route.
BROKEN_ROUTES = parse_routes(
    {"routes": {"generic": {"source": "generic", "consent": "implicit", "fields": {"email": "work_email"}}}}
)
FIXED_ROUTES = parse_routes({"routes": {"generic": {"source": "generic", "consent": "implicit"}}})


@dataclass
class Queues:
    resources: LocalResources
    client: Any

    @property
    def dlq(self) -> DeadLetterQueue:
        return DeadLetterQueue(url=self.resources.dlq_url, client=self.client)

    @property
    def queue(self) -> SignupQueue:
        return SignupQueue(url=self.resources.queue_url, client=self.client)

    def reader(self, visibility_timeout: int = 30) -> DeadLetterReader:
        return DeadLetterReader(url=self.resources.dlq_url, client=self.client, visibility_timeout=visibility_timeout)

    def drain(self, url: str) -> list[dict[str, Any]]:
        """Every message of a queue, deleted, with its system attributes."""
        found = []
        while batch := self.client.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
        ).get("Messages", []):
            for message in batch:
                self.client.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            found.extend(batch)
        return found

    def dlq_ids(self) -> set[str]:
        return {entry.id for entry in list_dead_letters(self.reader()).entries}


@pytest.fixture
def queues() -> Iterator[Queues]:
    with mock_aws():
        yield Queues(create_queues(visibility_timeout=0), boto3.client("sqs"))


def upsert_failure(
    signup: Signup = ADA, *, error_class: str = "rejected", queued_id: str = "generic:d-1"
) -> FailureRecord:
    return FailureRecord(
        stage="upsert",
        route=signup.route,
        error_class=error_class,
        message=f"list 'Events' does not exist ({signup.email})",
        failed_at=NOW,
        signup=signup,
        queued_id=queued_id,
        received_at=NOW,
    )


def receive_failure(body: dict[str, str], *, route: str = "generic") -> FailureRecord:
    raw = json.dumps(body).encode()
    return FailureRecord(
        stage="receive",
        route=route,
        error_class="invalid_submission",
        message="the submission has no usable email or invalid fields",
        failed_at=NOW,
        field_errors={"email": "missing: the submission has no form field 'work_email'"},
        queued_id="sha-of-the-body",
        content_type="application/json",
        body_base64=base64.b64encode(raw).decode(),
        headers={"content-type": "application/json", "x-signup-relay-token": "[redacted]"},
    )


def keep(queues: Queues, record: FailureRecord, *, dedupe: str) -> None:
    """Put a record in the DLQ as receive or upsert would."""
    queues.dlq.send(record, dedupe_id=dedupe)


def redrive(queues: Queues, queued: QueuedSignup, *, dedupe: str = "redrive-1") -> None:
    """Put a bare QueuedSignup in the DLQ, as the queue's redrive policy does."""
    queues.client.send_message(
        QueueUrl=queues.resources.dlq_url,
        MessageBody=to_json(queued),
        MessageGroupId=contact_key(queued.signup.email),
        MessageDeduplicationId=dedupe,
    )


def replay(queues: Queues, routes: Routes = FIXED_ROUTES, **kwargs: Any) -> ReplayReport:
    return replay_dead_letters(
        queues.reader(), queue=queues.queue, dlq=queues.dlq, load_routes=lambda: routes, clock=lambda: NOW, **kwargs
    )


# --- list / show ---------------------------------------------------------------------------------


def test_list_prints_one_line_per_record_with_masked_emails_and_a_count_by_error_class(queues):
    # Given two rejected sign-ups and one 422 delivery in the DLQ
    keep(queues, upsert_failure(ADA), dedupe="u-1")
    keep(queues, upsert_failure(GRACE, queued_id="typeform:t-1"), dedupe="u-2")
    keep(queues, receive_failure({"email": "bob@example.net"}), dedupe="r-1")

    # When they are listed
    text = format_listing(list_dead_letters(queues.reader()))

    # Then each has a line with its stage, route, class, masked email and attempts, then the summary; no raw email
    lines = text.splitlines()
    assert len(lines) == 4
    ada = next(line for line in lines if "generic" in line and "upsert" in line)
    expected = ["upsert", "generic", "rejected", "a***@example.com", "attempts=1", "2026-03-01T10:00:00Z"]
    assert ada.split()[1:7] == expected
    assert "g***@example.org" in text
    assert lines[-1] == "3 record(s): rejected 2, invalid_submission 1"
    assert "ada.lovelace@example.com" not in text and "grace@example.org" not in text


def test_listing_leaves_the_records_readable_by_the_next_reader(queues):
    # Given a record in the DLQ
    keep(queues, upsert_failure(), dedupe="u-1")

    # When it is listed twice in a row
    first = list_dead_letters(queues.reader(visibility_timeout=300))
    second = list_dead_letters(queues.reader())

    # Then the second reader sees it too (the first released it)
    assert [e.id for e in first.entries] == [e.id for e in second.entries]
    assert len(second.entries) == 1


def test_redriven_signups_and_unreadable_messages_are_listed_for_what_they_are(queues):
    # Given a bare QueuedSignup moved by the redrive policy, and a body that is nothing we wrote
    queued = QueuedSignup(id="generic:d-9", received_at=NOW, signup=ADA)
    redrive(queues, queued)
    queues.client.send_message(
        QueueUrl=queues.resources.dlq_url, MessageBody="not json", MessageGroupId="x", MessageDeduplicationId="x-1"
    )

    # When they are listed as JSON
    data = list_dead_letters(queues.reader()).to_json()

    # Then the redriven one is an upsert-stage "redriven" record of its route, the other is "unreadable"
    by_class = {record["error_class"]: record for record in data["records"]}
    assert by_class["redriven"]["stage"] == "upsert"
    assert by_class["redriven"]["route"] == "generic"
    assert by_class["redriven"]["email"] == "a***@example.com"
    assert by_class["redriven"]["queued_id"] == "generic:d-9"
    assert set(by_class) == {"redriven", "unreadable"}
    assert data["by_error_class"] == {"redriven": 1, "unreadable": 1}


def test_show_masks_emails_in_the_body_and_the_signup_and_keeps_secrets_redacted(queues):
    # Given a kept delivery whose body holds an email (plain and URL-encoded) and a redacted token
    record = receive_failure({"email": "bob@example.net", "ref": "bob%40example.net", "token": "[redacted]"})
    keep(queues, record, dedupe="r-1")
    keep(queues, upsert_failure(), dedupe="u-1")
    listing = list_dead_letters(queues.reader())

    # When each is shown by a prefix of its id
    shown = [format_entry(find_dead_letter(queues.reader(), entry.id[:8])) for entry in listing.entries]

    # Then the field errors, headers and body are there, every email masked
    text = "\n".join(shown)
    assert "b***@example.net" in text and "a***@example.com" in text
    assert "bob@example.net" not in text and "bob%40example.net" not in text and "ada.lovelace" not in text
    assert "x-signup-relay-token: [redacted]" in text
    assert "email: missing: the submission has no form field 'work_email'" in text


def test_show_of_an_unknown_id_is_a_lookup_error(queues):
    keep(queues, upsert_failure(), dedupe="u-1")
    with pytest.raises(LookupError, match="0 DLQ records match"):
        find_dead_letter(queues.reader(), "no-such-record")


# --- replay ----------------------------------------------------------------------------------------


def test_replay_resends_an_upsert_record_in_its_contact_group_past_the_dedupe_window(queues):
    # Given the sign-up was queued under its id moments ago (moto forgets a dedupe id once its message is
    # deleted, SQS keeps it 5 minutes: the original stays on the queue to stand for that window)
    queued = QueuedSignup(id="generic:d-1", received_at=NOW, signup=ADA)
    queues.queue.send(to_json(queued), group_id=contact_key(ADA.email), dedupe_id=queued.id)
    keep(queues, upsert_failure(), dedupe="u-1")

    # When it is replayed within the 5-minute deduplication window
    report = replay(queues)

    # Then the queue holds it again (not dropped as a duplicate), in the contact's group, with its id and sign-up
    original, replayed = queues.drain(queues.resources.queue_url)
    body = decode(replayed["Body"], QueuedSignup)
    assert replayed["Attributes"]["MessageGroupId"] == contact_key(ADA.email)
    assert replayed["Attributes"]["MessageDeduplicationId"] != original["Attributes"]["MessageDeduplicationId"]
    assert (body.id, body.signup) == ("generic:d-1", ADA)
    assert [result.action for result in report.results] == ["replayed"]
    assert queues.dlq_ids() == set()


def test_replay_resends_a_redriven_signup(queues):
    # Given a bare QueuedSignup the redrive policy moved to the DLQ
    queued = QueuedSignup(id="generic:d-9", received_at=NOW, signup=ADA)
    redrive(queues, queued)

    # When the DLQ is replayed
    replay(queues)

    # Then the same queued sign-up is back on the queue and gone from the DLQ
    [message] = queues.drain(queues.resources.queue_url)
    assert decode(message["Body"], QueuedSignup) == queued
    assert queues.dlq_ids() == set()


def test_replay_keeps_when_the_signup_was_received(queues):
    # Given an upsert record of a sign-up received a day before it failed
    received_at = datetime(2026, 2, 28, 10, 0, tzinfo=UTC)
    keep(queues, replace(upsert_failure(), received_at=received_at), dedupe="u-1")

    # When it is replayed
    replay(queues)

    # Then it is queued with its receipt time, not its failure time
    bodies = [decode(m["Body"], QueuedSignup) for m in queues.drain(queues.resources.queue_url)]
    assert {body.id: body.received_at for body in bodies} == {"generic:d-1": received_at}


def test_replay_keeps_when_the_person_submitted_not_when_it_is_replayed(queues):
    # Given an upsert record of a sign-up submitted two days before the replay
    submitted_at = datetime(2026, 2, 27, 8, 0, tzinfo=UTC)
    keep(queues, upsert_failure(replace(ADA, submitted_at=submitted_at)), dedupe="u-1")

    # When it is replayed (at NOW)
    replay(queues)

    # Then the queued sign-up still says when it was submitted: the policy compares that time with an opt-out
    [message] = queues.drain(queues.resources.queue_url)
    assert decode(message["Body"], QueuedSignup).signup.submitted_at == submitted_at


def test_an_upsert_record_from_before_submission_times_replays_as_submitted_when_received(queues):
    # Given an upsert record written before sign-ups carried their submission time
    received_at = datetime(2026, 2, 28, 10, 0, tzinfo=UTC)
    old = upsert_failure(replace(ADA, submitted_at=None))
    keep(queues, replace(old, received_at=received_at), dedupe="u-1")

    # When it is replayed
    replay(queues)

    # Then its submission time is its receipt time, never the replay's
    [message] = queues.drain(queues.resources.queue_url)
    assert decode(message["Body"], QueuedSignup).signup.submitted_at == received_at


def test_receive_record_replays_as_of_its_arrival_even_after_failing_again(queues):
    # Given a 422 delivery (no timestamp of its own) that arrived a day before, and a first replay that still fails
    arrived = datetime(2026, 2, 28, 10, 0, tzinfo=UTC)
    record = receive_failure({"email": "bob@example.net"})
    keep(queues, replace(record, failed_at=arrived, received_at=arrived), dedupe="r-1")
    replay(queues, BROKEN_ROUTES)

    # When it is replayed again, once the routes file is fixed, later still
    later = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    replay_dead_letters(
        queues.reader(), queue=queues.queue, dlq=queues.dlq, load_routes=lambda: FIXED_ROUTES, clock=lambda: later
    )

    # Then the sign-up is queued as received and submitted when the delivery arrived
    [message] = queues.drain(queues.resources.queue_url)
    queued = decode(message["Body"], QueuedSignup)
    assert (queued.received_at, queued.signup.submitted_at) == (arrived, arrived)


def test_receive_record_is_queued_once_the_routes_file_maps_it(queues):
    # Given a delivery kept with a 422 because the route looked for the email in the wrong field
    keep(
        queues, receive_failure({"email": "bob@example.net", "first_name": "Bob", "token": "[redacted]"}), dedupe="r-1"
    )

    # When it is replayed with the fixed routes
    report = replay(queues, FIXED_ROUTES)

    # Then a Signup of the route is queued in the person's group, and the record left the DLQ
    [message] = queues.drain(queues.resources.queue_url)
    queued = decode(message["Body"], QueuedSignup)
    assert (queued.signup.email, queued.signup.first_name, queued.signup.route) == ("bob@example.net", "Bob", "generic")
    assert queued.id == "sha-of-the-body"
    assert message["Attributes"]["MessageGroupId"] == contact_key("bob@example.net")
    assert [(r.action, r.entry.masked_email) for r in report.results] == [("replayed", "b***@example.net")]
    assert queues.dlq_ids() == set()


def test_receive_record_that_still_fails_stays_in_the_dlq_with_its_new_reason(queues):
    # Given a 422 delivery kept with an old reason
    record = receive_failure({"email": "bob@example.net"})
    keep(queues, replace(record, message="old reason", field_errors={}), dedupe="r-1")

    # When it is replayed with routes that still cannot map it
    report = replay(queues, BROKEN_ROUTES)

    # Then nothing is queued and the DLQ holds one record for it, with the new reason and one more attempt
    assert queues.drain(queues.resources.queue_url) == []
    [entry] = list_dead_letters(queues.reader()).entries
    assert (entry.error_class, entry.attempts, entry.message) == (
        "invalid_submission",
        2,
        "the submission has no usable email or invalid fields",
    )
    assert entry.record is not None and "work_email" in entry.record.field_errors["email"]
    assert entry.record.body_base64 == record.body_base64
    assert [result.action for result in report.results] == ["still_failing"]
    assert report.left_in_dlq == 1


def test_receive_record_of_a_route_that_no_longer_exists_stays_with_that_reason(queues):
    keep(queues, receive_failure({"email": "bob@example.net"}, route="gone"), dedupe="r-1")
    replay(queues, FIXED_ROUTES)
    [entry] = list_dead_letters(queues.reader()).entries
    assert (entry.error_class, entry.message) == ("unknown_route", "no route named 'gone'")


def test_dry_run_changes_nothing_and_says_what_would_happen(queues):
    # Given one replayable upsert record and one receive record that the routes still cannot map
    keep(queues, upsert_failure(), dedupe="u-1")
    keep(queues, receive_failure({"email": "bob@example.net"}), dedupe="r-1")
    before = queues.dlq_ids()

    # When a dry run replays everything
    report = replay(queues, BROKEN_ROUTES, dry_run=True)

    # Then it reports both outcomes, yet the DLQ is unchanged (same messages) and nothing was queued
    assert sorted(result.action for result in report.results) == ["would_replay", "would_still_fail"]
    assert queues.dlq_ids() == before
    assert queues.drain(queues.resources.queue_url) == []
    assert format_replay(report).splitlines()[-1] == "dry run, nothing changed: 1 would replay, 1 would still fail"


@pytest.mark.parametrize(
    ("selection", "replayed_routes"),
    [
        (Selection(route="typeform-newsletter"), ["typeform-newsletter"]),
        (Selection(error_class="server"), ["generic"]),
    ],
)
def test_filters_replay_only_the_selected_records(queues, selection, replayed_routes):
    # Given a rejected Grace and a transient Ada in the DLQ
    keep(queues, upsert_failure(GRACE, queued_id="typeform:t-1"), dedupe="u-1")
    keep(queues, upsert_failure(ADA, error_class="server"), dedupe="u-2")

    # When only part of them is replayed
    report = replay(queues, selection=selection)

    # Then only those were queued; the other stays in the DLQ
    queued = [decode(m["Body"], QueuedSignup) for m in queues.drain(queues.resources.queue_url)]
    assert [q.signup.route for q in queued] == replayed_routes
    assert [r.entry.route for r in report.results] == replayed_routes
    assert len(queues.dlq_ids()) == 1


def test_replay_by_id_takes_just_that_record(queues):
    keep(queues, upsert_failure(ADA), dedupe="u-1")
    keep(queues, upsert_failure(GRACE, queued_id="typeform:t-1"), dedupe="u-2")
    grace = next(e for e in list_dead_letters(queues.reader()).entries if e.route == "typeform-newsletter")

    replay(queues, selection=Selection(ids=(grace.id,)))

    [message] = queues.drain(queues.resources.queue_url)
    assert decode(message["Body"], QueuedSignup).signup == GRACE
    assert grace.id not in queues.dlq_ids() and len(queues.dlq_ids()) == 1


def test_records_held_by_a_concurrent_reader_are_not_replayed_twice(queues):
    # Given another operator's replay has just read the record (it is invisible to others for a while)
    keep(queues, upsert_failure(), dedupe="u-1")
    held = queues.reader(visibility_timeout=300).receive()

    # When a second replay runs meanwhile
    report = replay(queues)

    # Then it re-sends nothing and says a record could not be read
    assert len(held) == 1
    assert report.results == ()
    assert report.not_read == 1
    assert queues.drain(queues.resources.queue_url) == []


def test_replay_reaches_records_queued_behind_others_of_the_same_group(queues):
    # Given twelve sign-ups of one person moved by the redrive policy (it keeps their FIFO group: a read returns at
    # most ten of them)
    for n in range(12):
        redrive(queues, QueuedSignup(id=f"generic:d-{n}", received_at=NOW, signup=ADA), dedupe=f"redrive-{n}")
    listing = list_dead_letters(queues.reader())

    # When they are replayed
    report = replay(queues, FIXED_ROUTES)

    # Then the list could show ten and said two more wait, and the replay took all twelve, in order
    assert (len(listing.entries), listing.not_read) == (10, 2)
    assert "about 2 more record(s) could not be read now" in format_listing(listing)
    replayed = [decode(m["Body"], QueuedSignup) for m in queues.drain(queues.resources.queue_url)]
    assert [queued.id for queued in replayed] == [f"generic:d-{n}" for n in range(12)]
    assert len(report.results) == 12 and queues.dlq_ids() == set()


def test_a_record_whose_resend_fails_stays_in_the_dlq(queues):
    # Given the signup queue cannot be reached
    keep(queues, upsert_failure(), dedupe="u-1")
    broken = SignupQueue(url=queues.resources.queue_url + "-missing", client=queues.client)

    # When the record is replayed
    report = replay_dead_letters(queues.reader(), queue=broken, dlq=queues.dlq, load_routes=lambda: FIXED_ROUTES)

    # Then it is reported as an error and is still in the DLQ
    assert [result.action for result in report.results] == ["error"]
    assert "QueueUnavailableError" in report.results[0].detail
    assert len(queues.dlq_ids()) == 1


def test_upsert_and_redriven_signups_replay_with_their_current_route_options_and_account(queues):
    # Given a sign-up rejected under a route that could not create lists, and a redriven one of the same route
    keep(queues, upsert_failure(), dedupe="u-1")
    redriven = QueuedSignup(id="generic:d-9", received_at=NOW, signup=replace(ADA, email="a@example.org"))
    redrive(queues, redriven)
    # ... and the route fixed since: it may create lists now, in another account
    fixed = parse_routes(
        {
            "routes": {
                "generic": {
                    "source": "generic",
                    "consent": "implicit",
                    "create_missing_lists": True,
                    "account": "signup-relay/constant-contact/other-account",
                }
            }
        }
    )

    # When the DLQ is replayed
    report = replay(queues, fixed)

    # Then both are queued with the route's current options and account, the person's data as stored, and the
    # replay says where the options came from
    queued = [decode(m["Body"], QueuedSignup) for m in queues.drain(queues.resources.queue_url)]
    bodies = {body.id: body for body in queued}
    expected_update = {
        "options": fixed.get("generic").options,
        "account": "signup-relay/constant-contact/other-account",
    }
    assert bodies["generic:d-1"].signup == replace(ADA, **expected_update)
    assert bodies["generic:d-9"].signup == replace(redriven.signup, **expected_update)
    assert bodies["generic:d-1"].signup.options.create_missing_lists is True
    assert {result.detail for result in report.results} == {
        "options from current route 'generic' (changed: create_missing_lists, account); queued as generic:d-1",
        "options from current route 'generic' (changed: create_missing_lists, account); queued as generic:d-9",
    }


def test_signups_of_a_route_no_longer_in_the_routes_file_keep_their_stored_options(queues):
    # Given a sign-up received with options of a route that has since been removed
    stored = replace(GRACE, options=UpsertOptions(create_missing_lists=True), account="acct-1")
    keep(queues, upsert_failure(stored, queued_id="typeform-newsletter:d-2"), dedupe="u-1")

    # When it is replayed with routes that do not have its route
    report = replay(queues, FIXED_ROUTES)

    # Then it is queued as stored, and the replay says so
    [message] = queues.drain(queues.resources.queue_url)
    assert decode(message["Body"], QueuedSignup).signup == stored
    assert [(r.action, r.detail) for r in report.results] == [
        (
            "replayed",
            "stored options kept: route 'typeform-newsletter' no longer exists; queued as typeform-newsletter:d-2",
        )
    ]


def test_an_unreadable_routes_file_leaves_upsert_records_in_the_dlq(queues):
    # Given an upsert record, and a routes file that cannot be read
    keep(queues, upsert_failure(), dedupe="u-1")

    def broken_routes() -> Routes:
        raise ConfigError("cannot read routes file 'routes.yaml': No such file or directory")

    # When it is replayed
    report = replay_dead_letters(queues.reader(), queue=queues.queue, dlq=queues.dlq, load_routes=broken_routes)

    # Then nothing is queued: the record stays in the DLQ with the reason reported
    assert [(r.action, r.detail) for r in report.results] == [
        ("error", "ConfigError: cannot read routes file 'routes.yaml': No such file or directory")
    ]
    assert queues.drain(queues.resources.queue_url) == []
    assert len(queues.dlq_ids()) == 1


def test_unreadable_messages_are_not_replayed_and_stay(queues):
    queues.client.send_message(
        QueueUrl=queues.resources.dlq_url, MessageBody="{}", MessageGroupId="x", MessageDeduplicationId="x-1"
    )
    report = replay(queues)
    assert [result.action for result in report.results] == ["not_replayable"]
    assert len(queues.dlq_ids()) == 1


# --- purge ---------------------------------------------------------------------------------------


def test_purge_deletes_only_the_selected_records(queues):
    # Given two records
    keep(queues, upsert_failure(ADA), dedupe="u-1")
    keep(queues, upsert_failure(GRACE, queued_id="typeform:t-1"), dedupe="u-2")
    ada = next(e for e in list_dead_letters(queues.reader()).entries if e.route == "generic")

    # When one is purged by its queued id
    report = purge_dead_letters(queues.reader(), Selection(ids=("generic:d-1",)))

    # Then only that one is gone, and nothing was queued
    assert [entry.id for entry in report.purged] == [ada.id]
    assert ada.id not in queues.dlq_ids() and len(queues.dlq_ids()) == 1
    assert queues.drain(queues.resources.queue_url) == []


def test_short_id_prefixes_select_nothing(queues):
    keep(queues, upsert_failure(), dedupe="u-1")
    [entry] = list_dead_letters(queues.reader()).entries
    report = purge_dead_letters(queues.reader(), Selection(ids=(entry.id[:3],)))
    assert report.purged == () and len(queues.dlq_ids()) == 1


# --- queue URLs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "stack", "expected"),
    [
        (("f-dlq", "f-queue"), "s", ("f-dlq", "f-queue")),
        ((None, None), "s", ("s-dlq", "s-queue")),
        (("f-dlq", None), "s", ("f-dlq", "s-queue")),
        ((None, None), None, ("e-dlq", "e-queue")),
    ],
)
def test_queue_urls_come_from_flags_then_the_named_stack_then_the_environment(flags, stack, expected):
    outputs = {"DeadLetterQueueUrl": "s-dlq", "SignupQueueUrl": "s-queue"}
    urls = resolve_queue_urls(
        dlq_url=flags[0],
        queue_url=flags[1],
        stack_name=stack,
        env_dlq_url="e-dlq",
        env_queue_url="e-queue",
        stack_outputs=lambda name: outputs,
    )
    assert urls == expected


def test_every_record_of_one_route_is_listed_not_only_the_first_ten(queues):
    # Given 25 refused deliveries of one route (one FIFO group each: a shared group delivers ten at a time)
    for n in range(25):
        keep(queues, receive_failure({"email": f"person{n}@example.net"}), dedupe=f"receive-generic-{n}")

    # When the DLQ is listed
    listing = list_dead_letters(queues.reader())

    # Then every record is there
    assert len(listing.entries) == 25
    assert {entry.record.route for entry in listing.entries if entry.record} == {"generic"}


def test_the_cli_says_what_to_set_when_no_region_is_found(monkeypatch, capsys):
    # Given no region in the flags, the environment or a profile, and a stack name (nothing to read it from)
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "DLQ_URL", "QUEUE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    reset_relay_caches()
    # When the DLQ is listed, Then it stops before any AWS call and names the three ways to give one
    assert dlq_main(["--stack-name", "signup-relay", "list"]) == 2
    error = capsys.readouterr().err
    assert "--region" in error and "AWS_REGION" in error and "aws configure" in error


def test_the_cli_points_at_the_local_stacks_endpoint_for_a_local_url(capsys):
    assert dlq_main(["--dlq-url", "http://127.0.0.1:3000/queue/dlq.fifo", "list"]) == 2
    assert "/_local/dlq" in capsys.readouterr().err


def test_the_cli_takes_the_region_from_an_sqs_url():
    assert region_of("https://sqs.eu-west-1.amazonaws.com/123456789012/signup-relay-dead-letters.fifo") == "eu-west-1"
    assert region_of("http://127.0.0.1:3000/x") is None


def test_the_cli_says_how_to_get_credentials(monkeypatch, capsys):
    from botocore.exceptions import NoCredentialsError

    def no_credentials(args):
        raise NoCredentialsError()

    monkeypatch.setattr(dlq_cli, "run", no_credentials)
    assert dlq_main(["list"]) == 2
    assert "aws sso login" in capsys.readouterr().err


def test_url_encoded_addresses_are_masked_in_any_script():
    # Given form-encoded text with an ASCII and a non-ASCII address
    text = "email=ada%40example.com&other=zo%C3%AB%40b%C3%BCcher.example&n=1"
    # Then neither leaves whole, and the rest of the text stays
    masked = mask_text(text)
    assert "ada%40example.com" not in masked and "zo%C3%AB%40" not in masked
    assert "a***@example.com" in masked and "z***@bücher.example" in masked and masked.endswith("&n=1")
