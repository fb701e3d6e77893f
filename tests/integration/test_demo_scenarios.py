"""The `make demo` scenarios in-process: the demo account (events/sandbox_seed.json) seeded into the sandbox, each
seeded events/ sample through receive and upsert, and the sandbox's stored contact checked after it (the policy:
docs/architecture.md §2).

The demo itself can only show the outcome column (the sandbox lives in the stack subprocess); these tests hold the
stored state to what the outcome claims.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from functions.receive import app as receive_app
from functions.upsert import app as upsert_app
from local.aws_resources import LocalResources
from local.cc_sandbox import Sandbox
from local.events.scenarios import SCENARIOS
from local.events.seed import (
    ACTIVE_EMAIL,
    DELETED_EMAIL,
    LONG_EMAIL,
    RESUBSCRIBING_EMAIL,
    UNKNOWN_LIST,
    UNKNOWN_LIST_EMAIL,
    UNSUBSCRIBED_EMAIL,
)
from local.functions import sqs_event
from local.outcomes import SERVICE_LOGGER, OutcomeRecorder
from local.sandbox_seed import DEMO_SEED_FILE, apply_seed, load_seed
from tests.conftest import load_event
from tests.integration.relay_fixtures import dlq_records
from tests.oauth_secret import seed_oauth_secret
from tests.sandbox_fixtures import point_engine_at

EXPECTED = {scenario.file: scenario.expected for scenario in SCENARIOS}


@dataclass
class DemoAccount:
    resources: LocalResources
    sandbox: Sandbox
    contact_ids: dict[str, str]  # seeded email -> contact id
    recorder: OutcomeRecorder


@pytest.fixture
def demo_account(
    relay_aws: LocalResources, cc_sandbox_unthrottled: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> Iterator[DemoAccount]:
    """moto queues + secrets, the sandbox as Constant Contact, seeded like `make demo` seeds it."""
    sandbox = cc_sandbox_unthrottled
    contact_ids = apply_seed(sandbox, load_seed(DEMO_SEED_FILE))
    seed_oauth_secret(sandbox, relay_aws.cc_secret_id)
    point_engine_at(sandbox, monkeypatch, relay_aws.cc_secret_id)
    recorder = OutcomeRecorder()  # the outcome per queued id, read off the service's log lines as the demo does
    logging.getLogger(SERVICE_LOGGER).addHandler(recorder)
    try:
        yield DemoAccount(relay_aws, sandbox, contact_ids, recorder)
    finally:
        logging.getLogger(SERVICE_LOGGER).removeHandler(recorder)


def run_sample(account: DemoAccount, name: str, lambda_context: Any) -> str | None:
    """POST the events/ sample to receive, give the queued batch to upsert; the recorded outcome."""
    response = receive_app.lambda_handler(load_event(name), lambda_context)
    assert response["statusCode"] == 200, response
    queued_id = receive_app_id(response)
    sqs = boto3.client("sqs")
    url = account.resources.queue_url
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"])
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    result = upsert_app.lambda_handler(sqs_event(messages.get("Messages", []), arn), lambda_context)
    assert result == {"batchItemFailures": []}
    _counts, results = account.recorder.snapshot()
    outcome = results.get(queued_id, {}).get("outcome")
    return str(outcome) if outcome else None


def receive_app_id(response: dict[str, Any]) -> str:
    return str(json.loads(response["body"])["id"])


def stored(account: DemoAccount, email: str) -> dict[str, Any]:
    contact = account.sandbox.contact_by_email(email)
    assert contact is not None, email
    return contact


def list_names(account: DemoAccount, contact: dict[str, Any]) -> set[str]:
    ids = set(contact.get("list_memberships", []))
    return {name for name in ("Newsletter", "Customers", "Events") if account.sandbox.list_id(name) in ids}


def test_a_deleted_contact_signing_up_again_is_revived_onto_the_list(demo_account, lambda_context):
    # Given Mary Anning, soft-deleted (off every list), the contact a POST would answer 409 for
    account = demo_account
    email = DELETED_EMAIL
    assert stored(account, email).get("deleted_at")

    # When she signs up again through the generic route without a consent box (implicit)
    outcome = run_sample(account, "generic_returning_deleted_contact.json", lambda_context)

    # Then the same contact is brought back (not a new one, no 409 on the way), on the route's list
    assert outcome == EXPECTED["generic_returning_deleted_contact.json"]["outcome"] == "revived"
    contact = stored(account, email)
    assert contact["contact_id"] == account.contact_ids[email]
    assert "deleted_at" not in contact
    assert "Newsletter" in list_names(account, contact)
    assert contact["update_source"] == "Account"
    assert not [r for r in account.sandbox.request_log if r["status"] == 409]


def test_a_self_unsubscribed_contact_without_consent_keeps_her_permission(demo_account, lambda_context):
    # Given Inge Lehmann, who unsubscribed herself
    account = demo_account
    email = UNSUBSCRIBED_EMAIL
    contact_id = account.contact_ids[email]
    history_before = account.sandbox.permission_history(contact_id)
    lists_before = stored(account, email)["list_memberships"]

    # When a form without a consent box sends her again, with her company
    outcome = run_sample(account, "generic_unsubscribed_no_consent.json", lambda_context)

    # Then she stays unsubscribed (her own opt-out untouched, no list added) and only her profile changes
    assert outcome == EXPECTED["generic_unsubscribed_no_consent.json"]["outcome"] == "kept_unsubscribed"
    contact = stored(account, email)
    assert account.sandbox.permission_history(contact_id) == history_before
    assert contact["email_address"]["permission_to_send"] == "unsubscribed"
    assert contact["email_address"]["opt_out_source"] == "Contact"
    assert contact["list_memberships"] == lists_before
    assert contact["company_name"] == "Geodetic Inst."


def test_a_self_unsubscribed_contact_who_consents_on_this_form_is_resubscribed(demo_account, lambda_context):
    # Given Williamina Fleming, who unsubscribed herself
    account = demo_account
    email = RESUBSCRIBING_EMAIL
    contact_id = account.contact_ids[email]
    history_before = account.sandbox.permission_history(contact_id)

    # When she ticks the consent box on this form
    outcome = run_sample(account, "generic_unsubscribed_opts_in_again.json", lambda_context)

    # Then she is explicit again by her own request on the form, and on the route's list
    assert outcome == EXPECTED["generic_unsubscribed_opts_in_again.json"]["outcome"] == "resubscribed"
    contact = stored(account, email)
    assert contact["email_address"]["permission_to_send"] == "explicit"
    history = account.sandbox.permission_history(contact_id)
    assert history[: len(history_before)] == history_before
    assert (history[-1]["from"], history[-1]["to"]) == ("unsubscribed", "explicit")
    assert "Newsletter" in list_names(account, contact)


def test_an_active_contact_is_updated_without_losing_what_the_form_did_not_send(demo_account, lambda_context):
    # Given Dorothy Hodgkin, active, with a job title, phone, address, birthday, a custom field and a list
    account = demo_account
    email = ACTIVE_EMAIL
    before = stored(account, email)

    # When a form sends only her email, her company and a list choice (no consent box: implicit)
    outcome = run_sample(account, "generic_existing_contact_update.json", lambda_context)

    # Then the company is set, the lists are a union, and every field the form did not send is as it was
    assert outcome == EXPECTED["generic_existing_contact_update.json"]["outcome"] == "updated"
    contact = stored(account, email)
    assert contact["contact_id"] == before["contact_id"]
    assert contact["company_name"] == "University of Oxford"
    assert list_names(account, contact) == {"Customers", "Newsletter", "Events"}
    for field in ("first_name", "last_name", "job_title", "birthday_month", "birthday_day", "custom_fields"):
        assert contact.get(field) == before[field], field
    assert [p["phone_number"] for p in contact["phone_numbers"]] == ["+44 1865 555 0110"]
    [address] = contact["street_addresses"]
    assert (address["street"], address["city"], address["postal_code"]) == ("South Parks Road", "Oxford", "OX1 3QZ")
    assert contact["email_address"]["permission_to_send"] == before["email_address"]["permission_to_send"]


def test_an_email_over_fifty_characters_is_created_with_post(demo_account, lambda_context):
    # Given a consenting sign-up whose email (71 characters) is too long for sign_up_form
    account = demo_account
    email = LONG_EMAIL
    assert 50 < len(email) <= 80
    account.sandbox.clear_request_log()

    # When it is upserted
    outcome = run_sample(account, "generic_long_email.json", lambda_context)

    # Then it is created through POST /contacts (never sign_up_form), explicit, on the route's list
    assert outcome == EXPECTED["generic_long_email.json"]["outcome"] == "created"
    writes = [(r["method"], r["path"]) for r in account.sandbox.request_log if r["method"] in ("POST", "PUT")]
    assert ("POST", "/v3/contacts") in writes
    assert not [path for _method, path in writes if path.endswith("/sign_up_form")]
    contact = stored(account, email)
    assert contact["email_address"]["permission_to_send"] == "explicit"
    assert "Newsletter" in list_names(account, contact)


def test_a_list_the_route_may_not_create_is_rejected_to_the_dlq(demo_account, lambda_context):
    # Given the generic-existing-lists route (create_missing_lists false) and a sign-up naming a list the account lacks
    account = demo_account

    # When it is upserted
    outcome = run_sample(account, "generic_list_not_in_account.json", lambda_context)

    # Then it is rejected with the list named in the DLQ record; no contact and no list were created
    assert outcome == EXPECTED["generic_list_not_in_account.json"]["outcome"] == "rejected"
    [record] = dlq_records(account.resources.dlq_url)
    assert (record["stage"], record["route"], record["error_class"]) == ("upsert", "generic-existing-lists", "rejected")
    assert UNKNOWN_LIST in record["message"]
    assert account.sandbox.contact_by_email(UNKNOWN_LIST_EMAIL) is None
    assert account.sandbox.list_id(UNKNOWN_LIST) is None
