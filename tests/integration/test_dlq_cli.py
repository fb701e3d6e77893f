"""The `dlq` CLI in-process against moto, the real receive and upsert handlers, and the sandbox over HTTP.

`python -m signup_relay.ops.dlq` in a subprocess could not see this process's moto, so the tests call `main(argv)`.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from functions.receive import app as receive_app
from functions.upsert import app as upsert_app
from local.aws_resources import LocalResources, peek_messages, reset_relay_caches
from local.cc_sandbox import Sandbox
from local.demo import send
from local.functions import sqs_event
from local.stack import LocalStack
from signup_relay.ops.dlq.cli import main
from tests.cloudformation_stub import stubbed_stack
from tests.conftest import load_event
from tests.integration.relay_fixtures import dlq_records
from tests.oauth_secret import seed_oauth_secret
from tests.sandbox_fixtures import point_engine_at

# The generic route may not create lists: a sign-up choosing "events" is rejected while the list is missing.
STRICT_ROUTES = """
version: 1
routes:
  generic:
    source: generic
    consent: {field: consent, otherwise: implicit}
    list_field: {field: lists, choices: {newsletter: Newsletter, events: Events}}
"""
# The generic route looking for the email in a field Zapier does not send: every delivery is a 422.
WRONG_EMAIL_FIELD_ROUTES = STRICT_ROUTES + "    fields: {email: work_email}\n"


@pytest.fixture
def relay(
    relay_aws: LocalResources, cc_sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[LocalResources, Sandbox, Path]]:
    """moto queues + secrets, the sandbox as the Constant Contact account, and a routes file the test can edit."""
    seed_oauth_secret(cc_sandbox, relay_aws.cc_secret_id)
    routes_file = tmp_path / "routes.yaml"
    routes_file.write_text(STRICT_ROUTES)
    monkeypatch.setenv("ROUTES_FILE", str(routes_file))
    point_engine_at(cc_sandbox, monkeypatch, relay_aws.cc_secret_id)
    cc_sandbox.seed_list("Newsletter")
    yield relay_aws, cc_sandbox, routes_file


def receive(name: str, lambda_context: Any) -> int:
    return int(receive_app.lambda_handler(load_event(name), lambda_context)["statusCode"])


def run_upsert(resources: LocalResources, lambda_context: Any) -> dict[str, Any]:
    """One batch from the FIFO queue through the upsert handler; the handled messages are deleted, as Lambda does."""
    sqs = boto3.client("sqs")
    messages = sqs.receive_message(
        QueueUrl=resources.queue_url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
    ).get("Messages", [])
    arn = sqs.get_queue_attributes(QueueUrl=resources.queue_url, AttributeNames=["QueueArn"])["Attributes"]
    response: dict[str, Any] = upsert_app.lambda_handler(sqs_event(messages, arn["QueueArn"]), lambda_context)
    failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
    for message in messages:
        if message["MessageId"] not in failed:
            sqs.delete_message(QueueUrl=resources.queue_url, ReceiptHandle=message["ReceiptHandle"])
    return response


def reject_for_the_missing_events_list(resources: LocalResources, lambda_context: Any) -> dict[str, Any]:
    """Ada's sign-up choosing "events" received and upserted while the list is missing: its DLQ record."""
    assert receive("generic_update_form.json", lambda_context) == 200
    run_upsert(resources, lambda_context)
    [record] = dlq_records(resources.dlq_url)
    assert record["error_class"] == "rejected"
    return record


def assert_ada_is_on_the_events_list(sandbox: Sandbox) -> None:
    contact = sandbox.contact_by_email("ada.lovelace@example.com")
    assert contact is not None
    assert sandbox.list_id("Events") in contact["list_memberships"]


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """`python -m signup_relay.ops.dlq --wait 0 <args>` in this process: (exit status, stdout)."""
    capsys.readouterr()  # drop what the handlers printed (logs, metrics) before the command
    code = main(["--wait", "0", *args])
    return code, capsys.readouterr().out


def test_list_prints_each_record_and_the_summary_without_raw_emails(relay, lambda_context, capsys):
    # Given one sign-up rejected for a missing list and one delivery without an email (422)
    resources, _, _ = relay
    assert receive("generic_update_form.json", lambda_context) == 200
    run_upsert(resources, lambda_context)
    assert receive("generic_missing_email.json", lambda_context) == 422

    # When the operator lists the DLQ, as text and as JSON
    code, text = cli(capsys, "list")
    json_code, raw = cli(capsys, "list", "--json")

    # Then one line per record (stage, route, class, masked email, attempts) and a count by class
    lines = text.splitlines()
    assert code == json_code == 0
    rejected = next(line for line in lines if " rejected " in line)
    assert rejected.split()[1:6] == ["upsert", "generic", "rejected", "a***@example.com", "attempts=1"]
    assert "Events" in rejected
    assert next(line for line in lines if " invalid_submission " in line).split()[1:5] == [
        "receive",
        "generic",
        "invalid_submission",
        "-",
    ]
    assert lines[-1] == "2 record(s): invalid_submission 1, rejected 1"
    assert "ada.lovelace@example.com" not in text + raw
    data = json.loads(raw)
    assert (data["total"], data["by_error_class"]) == (2, {"rejected": 1, "invalid_submission": 1})
    assert {record["email"] for record in data["records"]} == {"a***@example.com", ""}


def test_replay_after_the_missing_list_is_created_ends_with_the_contact_in_constant_contact(
    relay, lambda_context, capsys
):
    # Given a sign-up rejected because the account had no "Events" list
    resources, sandbox, _ = relay
    record = reject_for_the_missing_events_list(resources, lambda_context)

    # When the list is created and the operator replays the DLQ, and the upsert function runs (in a new
    # container: a warm one re-reads list names at most every few seconds)
    sandbox.seed_list("Events")
    reset_relay_caches()
    code, text = cli(capsys, "replay")
    response = run_upsert(resources, lambda_context)

    # Then the replay reported it, the DLQ is empty, and the contact exists on the list
    assert code == 0
    assert text.splitlines()[0].startswith("replayed ")
    assert text.splitlines()[0].endswith(f"queued as {record['queued_id']}")
    assert text.splitlines()[-1] == "replay: 1 replayed"
    assert response == {"batchItemFailures": []}
    assert dlq_records(resources.dlq_url) == []
    assert_ada_is_on_the_events_list(sandbox)


def test_replay_after_the_route_may_create_the_list_ends_with_the_contact_on_the_new_list(
    relay, lambda_context, capsys
):
    # Given a sign-up rejected because its route may not create the missing "Events" list
    resources, sandbox, routes_file = relay
    reject_for_the_missing_events_list(resources, lambda_context)
    assert sandbox.list_id("Events") is None

    # When the route is changed to create missing lists, the DLQ replayed, and the upsert function runs
    routes_file.write_text(STRICT_ROUTES + "    create_missing_lists: true\n")
    reset_relay_caches()
    code, text = cli(capsys, "replay")
    response = run_upsert(resources, lambda_context)

    # Then the replay took the current route's options, and the contact exists on the list it created
    assert code == 0
    assert "options from current route 'generic' (changed: create_missing_lists)" in text.splitlines()[0]
    assert response == {"batchItemFailures": []}
    assert dlq_records(resources.dlq_url) == []
    assert_ada_is_on_the_events_list(sandbox)


def test_a_late_replay_never_resubscribes_someone_who_unsubscribed_after_submitting(relay, lambda_context, capsys):
    # Given Ada on the newsletter, whose explicit sign-up choosing "events" was dead-lettered (no such list yet)
    resources, sandbox, _ = relay
    contact_id = sandbox.seed_contact("ada.lovelace@example.com", lists=["Newsletter"])
    event = load_event("generic_update_form.json")
    event["body"] += "&consent=yes"
    assert receive_app.lambda_handler(event, lambda_context)["statusCode"] == 200
    run_upsert(resources, lambda_context)
    [record] = dlq_records(resources.dlq_url)
    assert (record["error_class"], record["signup"]["consent"]) == ("rejected", "explicit")
    # And Ada then unsubscribed herself
    sandbox.unsubscribe_contact(contact_id)

    # When the list is created and the operator replays the DLQ, and the upsert function runs
    sandbox.seed_list("Events")
    reset_relay_caches()
    code, _ = cli(capsys, "replay")
    response = run_upsert(resources, lambda_context)

    # Then the replayed sign-up kept its submission time, older than the opt-out: Ada stays unsubscribed and off
    # the new list, with no sign_up_form and no resubscribe email
    assert code == 0 and response == {"batchItemFailures": []}
    contact = sandbox.contact_by_email("ada.lovelace@example.com")
    assert contact is not None
    assert contact["email_address"]["permission_to_send"] == "unsubscribed"
    assert sandbox.list_id("Events") not in contact["list_memberships"]
    assert sandbox.resubscribe_request(contact_id) is None
    assert "/v3/contacts/sign_up_form" not in [r["path"] for r in sandbox.request_log]


def test_a_422_delivery_is_replayed_once_the_routes_file_is_fixed(relay, lambda_context, capsys):
    # Given the route looked for the email in the wrong field, so Zapier's sign-up was answered 422 and kept
    resources, sandbox, routes_file = relay
    routes_file.write_text(WRONG_EMAIL_FIELD_ROUTES)
    reset_relay_caches()
    assert receive("generic_signup.json", lambda_context) == 422

    # When the routes file is fixed, the record replayed, and the upsert function runs
    routes_file.write_text(STRICT_ROUTES)
    code, text = cli(capsys, "replay", "--route", "generic", "--error-class", "invalid_submission")
    response = run_upsert(resources, lambda_context)

    # Then the person is a contact with the form's fields, under the same id the sender would have been given
    assert code == 0
    assert "a***@example.com" in text and "queued as generic:zap-run-6f1d2c0a-0001" in text
    assert response == {"batchItemFailures": []}
    assert dlq_records(resources.dlq_url) == []
    contact = sandbox.contact_by_email("ada.lovelace@example.com")
    assert contact is not None
    assert (contact["first_name"], contact["last_name"]) == ("Ada", "Lovelace")
    assert contact["email_address"]["permission_to_send"] == "explicit"


def test_a_record_that_still_fails_stays_in_the_dlq_with_its_new_reason(relay, lambda_context, capsys):
    # Given a delivery without any email, kept with a 422
    resources, _, _ = relay
    assert receive("generic_missing_email.json", lambda_context) == 422

    # When it is replayed (the routes file cannot give it an email either)
    code, text = cli(capsys, "replay")

    # Then the command says so and exits 1, nothing is queued, and the DLQ keeps it with one more attempt
    assert code == 1
    assert text.splitlines()[0].startswith("still failing ")
    assert "email: missing" in text
    assert text.splitlines()[-1] == "replay: 1 still failing"
    assert peek_messages(resources.queue_url) == []
    [record] = dlq_records(resources.dlq_url)
    assert (record["stage"], record["error_class"], record["attempts"]) == ("receive", "invalid_submission", 2)
    assert "email" in record["field_errors"]


def test_dry_run_changes_nothing(relay, lambda_context, capsys):
    # Given a rejected sign-up whose cause is fixed, and a 422 without email
    resources, sandbox, _ = relay
    assert receive("generic_update_form.json", lambda_context) == 200
    run_upsert(resources, lambda_context)
    assert receive("generic_missing_email.json", lambda_context) == 422
    sandbox.seed_list("Events")
    before = dlq_records(resources.dlq_url)

    # When the operator replays with --dry-run
    code, text = cli(capsys, "replay", "--dry-run")

    # Then it says what would happen, but the DLQ holds the same records and nothing was queued or upserted
    assert code == 1
    assert text.splitlines()[-1] == "dry run, nothing changed: 1 would replay, 1 would still fail"
    assert sorted(map(json.dumps, dlq_records(resources.dlq_url))) == sorted(map(json.dumps, before))
    assert peek_messages(resources.queue_url) == []
    assert sandbox.contact_by_email("ada.lovelace@example.com") is None


def test_show_prints_one_record_in_full_with_the_email_masked(relay, lambda_context, capsys):
    # Given a 422 delivery in the DLQ
    assert receive("generic_missing_email.json", lambda_context) == 422
    [record] = json.loads(cli(capsys, "list", "--json")[1])["records"]

    # When the operator shows it by an id prefix
    code, text = cli(capsys, "show", record["id"][:8])

    # Then its reason, field errors, redacted token header and body are printed
    assert code == 0
    assert f"id: {record['id']}" in text
    assert "error_class: invalid_submission" in text
    assert "x-signup-relay-token: [redacted]" in text
    assert "demo-generic-token" not in text
    assert '"first_name": "Nobody"' in text


def test_show_of_an_unknown_id_exits_1(relay, capsys):
    code = main(["--wait", "0", "show", "0000000000"])
    assert code == 1
    assert "0 DLQ records match" in capsys.readouterr().err


def test_purge_asks_for_confirmation_and_deletes_with_yes(relay, lambda_context, capsys):
    # Given two deliveries kept in the DLQ (no email: 422; an unsupported content type: 415)
    resources, _, _ = relay
    assert receive("generic_missing_email.json", lambda_context) == 422
    assert receive("generic_wrong_content_type.json", lambda_context) == 415
    records = json.loads(cli(capsys, "list", "--json")[1])["records"]
    target = records[0]["id"]

    # When one is purged without --yes (no terminal to confirm on), then with --yes
    refused, _ = cli(capsys, "purge", "--id", target)
    refused_count = len(dlq_records(resources.dlq_url))
    code, text = cli(capsys, "purge", "--id", target, "--yes")

    # Then the first refused and deleted nothing; the second deleted exactly that record
    assert refused == 1 and refused_count == len(records)
    assert code == 0
    assert text.splitlines()[-1] == "purged 1 record(s)"
    remaining = json.loads(cli(capsys, "list", "--json")[1])["records"]
    assert [r["id"] for r in remaining] == [r["id"] for r in records[1:]]


def test_stack_name_reads_the_queue_urls_from_the_stack_outputs(relay, lambda_context, capsys, monkeypatch):
    # Given a deployed stack whose Outputs name the queues (CloudFormation stubbed at the botocore level: moto's
    # CloudFormation needs extras this project does not install), and no queue URLs in the environment
    resources, _, _ = relay
    assert receive("generic_missing_email.json", lambda_context) == 422
    outputs = {"DeadLetterQueueUrl": resources.dlq_url, "SignupQueueUrl": resources.queue_url}
    stubber = stubbed_stack(monkeypatch, "signup-relay", outputs)
    monkeypatch.delenv("DLQ_URL")
    monkeypatch.delenv("QUEUE_URL")
    reset_relay_caches()
    assert main(["--wait", "0", "list"]) == 2  # nowhere to read from
    assert "no DLQ URL" in capsys.readouterr().err

    # When the operator names the stack
    with stubber:
        code, text = cli(capsys, "--stack-name", "signup-relay", "list")

    # Then the DLQ of that stack is listed
    assert code == 0
    assert text.splitlines()[-1] == "1 record(s): invalid_submission 1"


def test_local_stack_lists_and_replays_its_dlq_over_http():
    # Given the local stack, and a delivery without an email answered 422 and kept in its DLQ
    with LocalStack(port=0, constant_contact_env={}) as stack:
        status, _ = send(stack.url, load_event("generic_missing_email.json"))

        # When the DLQ is listed, dry-run replayed, then replayed over HTTP
        with urllib.request.urlopen(f"{stack.url}/_local/dlq") as response:
            listing = json.loads(response.read())
        dry = post_json(f"{stack.url}/_local/dlq/replay", {"route": "generic", "dry_run": True})
        real = post_json(f"{stack.url}/_local/dlq/replay", {"error_class": "invalid_submission"})
        with urllib.request.urlopen(f"{stack.url}/_local/dlq") as response:
            after = json.loads(response.read())

    # Then the list has the record, the dry run changed nothing, and the replay kept it with one more attempt
    assert status == 422
    assert (listing["total"], listing["by_error_class"]) == (1, {"invalid_submission": 1})
    assert [r["action"] for r in dry["results"]] == ["would_still_fail"]
    assert [r["action"] for r in real["results"]] == ["still_failing"]
    assert [(r["error_class"], r["attempts"]) for r in after["records"]] == [("invalid_submission", 2)]


def post_json(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"content-type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request) as response:
        result: dict[str, Any] = json.loads(response.read())
    return result
