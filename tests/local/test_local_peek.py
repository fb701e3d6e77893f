"""The local stack's look-ups for a person trying a form: /_local/preview/{route} and /_local/contacts."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from local.demo import send
from local.events.build import event_body
from local.stack import LocalStack
from signup_relay.aws.queue import get_sqs_client
from tests.conftest import load_event
from tests.local.stack_support import wait_until_drained


def preview(stack: LocalStack, event: dict[str, Any], *, token: str | None = None) -> tuple[int, dict[str, Any]]:
    route = event["rawPath"].removeprefix("/hooks/")
    headers = {k: v for k, v in event["headers"].items() if k.lower() not in ("host", "content-length")}
    if token is not None:
        headers["x-signup-relay-token"] = token
    request = urllib.request.Request(
        f"{stack.url}/_local/preview/{route}", data=event_body(event), method="POST", headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def get_json(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def queued(stack: LocalStack) -> int:
    attributes = get_sqs_client().get_queue_attributes(
        QueueUrl=stack.resources.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def test_preview_shows_the_contact_and_consent_and_queues_nothing(shared_stack: LocalStack):
    # Given a signed Typeform delivery
    event = load_event("typeform_signup.json")
    # When it is previewed
    status, answer = preview(shared_stack, event)
    # Then the answer is the contact it would become and its consent, and nothing was queued or written
    assert status == 200 and answer["would_queue"] is True
    assert answer["contact"]["email"] and answer["consent"] in ("explicit", "implicit", "none")
    assert answer["route"] == "typeform-newsletter"
    assert queued(shared_stack) == 0
    assert shared_stack.sandbox.contact_by_email(answer["contact"]["email"]) is None


def test_preview_explains_a_refusal(shared_stack: LocalStack):
    # Given the generic sample without an email, and one with a wrong token
    missing = load_event("generic_missing_email.json")
    status, answer = preview(shared_stack, missing)
    # Then the 422 lists the form's fields, and the 401 says (to the person trying it) which check failed
    assert status == 422 and "found" in answer and "fields.email" in answer["fields"]["email"]
    status, answer = preview(shared_stack, load_event("generic_signup.json"), token="not-the-token")
    assert status == 401 and answer["error"] == "unauthorized" and answer["reason"]


def test_contacts_shows_the_stored_contact_after_a_delivery(shared_stack: LocalStack):
    # Given the Zapier sample delivered and upserted
    status, _ = send(shared_stack.url, load_event("generic_signup.json"))
    assert status == 200
    wait_until_drained(shared_stack)
    # When the contact is looked up by a differently written address
    status, answer = get_json(f"{shared_stack.url}/_local/contacts?email=Ada.Lovelace@Example.com")
    # Then it is the sandbox's stored contact, with its lists
    stored = shared_stack.sandbox.contact_by_email("ada.lovelace@example.com")
    assert status == 200 and answer["email"] == "ada.lovelace@example.com"
    [contact] = answer["contacts"]
    assert contact["contact_id"] == stored["contact_id"]
    assert contact["list_memberships"] == stored["list_memberships"]
    # And without an address it says what to give
    assert get_json(f"{shared_stack.url}/_local/contacts")[0] == 400


SIGNED_SAMPLES = {
    "typeform_signup.json": ("typeform", "typeform-signature", "base64 HMAC-SHA256 of the raw body"),
    "tally_signup.json": ("tally", "tally-signature", "base64 HMAC-SHA256 of the raw body"),
    "webflow_signup.json": ("webflow", "x-webflow-signature", "'<x-webflow-timestamp>:<raw body>'"),
    "formstack_signup.json": ("formstack", "x-fs-signature", "hex HMAC-SHA256 of the raw body"),
    "framer_signup.json": ("framer", "framer-signature", "followed by the framer-webhook-submission-id header"),
    "formspree_signup.json": ("formspree", "formspree-signature", "v1=<hex HMAC-SHA256 of '<t>.<raw body>'>"),
    "wpforms_signup.json": ("wpforms", "x-wpforms-webhook-signature", "v=<hex HMAC-SHA256 of '<t>."),
    "hubspot_contact.json": ("hubspot", "x-hubspot-signature-v3", "POST + https://127.0.0.1:"),
    "standard_webhooks_signup.json": ("standard_webhooks", "webhook-signature", "'<webhook-id>.<webhook-timestamp>."),
}


def test_preview_of_a_wrongly_signed_delivery_names_the_header_and_what_is_signed(shared_stack: LocalStack):
    from local.send import signed_request

    for name, (source, header, signed) in SIGNED_SAMPLES.items():
        # Given a sample of each signing sender, signed now but with another secret
        event = load_event(name)
        route = event["rawPath"].removeprefix("/hooks/")
        wrong = "whsec_d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldA==" if source == "standard_webhooks" else "wrong-secret-" * 3
        request = signed_request(
            route, source, event_body(event), event["headers"]["content-type"], wrong, shared_stack.url, preview=True
        )
        # When it is previewed
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, answer = response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            status, answer = error.code, json.loads(error.read())
        # Then the sender's answer is the usual 401, and the reason names the header and what the sender signs
        assert (status, answer["error"]) == (401, "unauthorized"), (name, answer)
        assert answer["reason"].startswith(f"{header} does not match: it should be "), (name, answer["reason"])
        assert signed in answer["reason"] and answer["reason"].endswith("keyed with the route's secret"), name
        # ... never the signature it expected
        assert not any(value in answer["reason"] for value in request.headers.values() if len(value) > 20), name
