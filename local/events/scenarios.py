"""The events/ files this package writes: one Scenario each, with the route, body and authentication it is sent with.

The expected status and outcome of each is written to events/expected.json; `make demo` and the tests hold the
stack to them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from local.events.bodies import (
    JOTFORM_BOUNDARY,
    Body,
    form_payload,
    jotform_body,
    json_body,
    json_payload,
    real_capture,
    tally_without_email,
    typeform_without_email,
    unbounce_body,
    wufoo_body,
)
from local.events.seed import SEED_SIGNUPS


@dataclass(frozen=True)
class Scenario:
    """One events/ file: the route it posts to, its body, and how it authenticates."""

    file: str
    route: str
    source: str
    content_type: str
    body: Body
    expected: dict[str, Any]
    auth: str = "valid"  # valid | wrong_secret | stale | tampered | none
    token: str = "header"  # unsigned sources: header | query | body (Wufoo HandshakeKey) | none
    headers: dict[str, str] = field(default_factory=dict)
    user_agent: str = "Mozilla/5.0 (compatible)"
    source_ip: str = "203.0.113.10"


CREATED = {"status": 200, "outcome": "created"}
UNAUTHORIZED = {"status": 401}
INVALID = {"status": 422}
UNSUPPORTED = {"status": 415}
JOTFORM_CONTENT_TYPE = f"multipart/form-data; boundary={JOTFORM_BOUNDARY}"

SCENARIOS: tuple[Scenario, ...] = (
    # Typeform (signed, no timestamp)
    Scenario(
        "typeform_signup.json",
        "typeform-newsletter",
        "typeform",
        "application/json",
        json_payload("typeform_signup"),
        CREATED,
        user_agent="Typeform Webhooks",
    ),
    Scenario(
        "typeform_tampered_body.json",
        "typeform-newsletter",
        "typeform",
        "application/json",
        json_payload("typeform_signup"),
        UNAUTHORIZED,
        auth="tampered",
        user_agent="Typeform Webhooks",
    ),
    Scenario(
        "typeform_missing_email.json",
        "typeform-newsletter",
        "typeform",
        "application/json",
        json_payload("typeform_signup", typeform_without_email),
        INVALID,
        user_agent="Typeform Webhooks",
    ),
    # Tally (signed, no timestamp)
    Scenario(
        "tally_signup.json",
        "tally-newsletter",
        "tally",
        "application/json",
        json_payload("tally_signup"),
        CREATED,
        user_agent="Tally Webhooks",
    ),
    Scenario(
        "tally_wrong_secret.json",
        "tally-newsletter",
        "tally",
        "application/json",
        json_payload("tally_signup"),
        UNAUTHORIZED,
        auth="wrong_secret",
        user_agent="Tally Webhooks",
    ),
    Scenario(
        "tally_missing_email.json",
        "tally-newsletter",
        "tally",
        "application/json",
        json_payload("tally_signup", tally_without_email),
        INVALID,
        user_agent="Tally Webhooks",
    ),
    # Webflow (signed, 5-minute window)
    Scenario(
        "webflow_signup.json",
        "webflow-contact",
        "webflow",
        "application/json",
        json_payload("webflow_signup"),
        CREATED,
        user_agent="Webflow-Webhook/1.0",
    ),
    Scenario(
        "webflow_stale_timestamp.json",
        "webflow-contact",
        "webflow",
        "application/json",
        json_payload("webflow_signup"),
        UNAUTHORIZED,
        auth="stale",
        user_agent="Webflow-Webhook/1.0",
    ),
    Scenario(
        "webflow_bad_signature.json",
        "webflow-contact",
        "webflow",
        "application/json",
        json_payload("webflow_signup"),
        UNAUTHORIZED,
        auth="wrong_secret",
        user_agent="Webflow-Webhook/1.0",
    ),
    # Formstack (signed, URL-encoded)
    Scenario(
        "formstack_signup.json",
        "formstack-signup",
        "formstack",
        "application/x-www-form-urlencoded",
        form_payload("formstack_signup"),
        CREATED,
        user_agent="Formstack Webhook",
    ),
    Scenario(
        "formstack_wrong_content_type.json",
        "formstack-signup",
        "formstack",
        "text/xml",
        lambda _s: b"<submission><Email>sophie@example.org</Email></submission>",
        UNSUPPORTED,
        user_agent="Formstack Webhook",
    ),
    # Framer (signed over body || submission id)
    Scenario(
        "framer_signup.json",
        "framer-waitlist",
        "framer",
        "application/json",
        json_payload("framer_signup"),
        CREATED,
        headers={"framer-webhook-submission-id": "3f9d2c1b-7a6e-4d5c-8b4a-1e2f3a4b5c6d"},
        user_agent="Framer-Webhooks",
    ),
    # Formspree (signed, t=,v1=)
    Scenario(
        "formspree_signup.json",
        "formspree-contact",
        "formspree",
        "application/json",
        json_payload("formspree_signup"),
        CREATED,
        user_agent="Formspree",
    ),
    Scenario(
        "formspree_stale_timestamp.json",
        "formspree-contact",
        "formspree",
        "application/json",
        json_payload("formspree_signup"),
        UNAUTHORIZED,
        auth="stale",
        user_agent="Formspree",
    ),
    # WPForms (signed over its JSON copy of the URL-encoded fields)
    Scenario(
        "wpforms_signup.json",
        "wpforms-newsletter",
        "wpforms",
        "application/x-www-form-urlencoded; charset=utf-8",
        form_payload("wpforms_signup"),
        CREATED,
        headers={"x-wpforms-webhook-id": "1"},
        user_agent="wpforms-webhooks/1.4.0",
    ),
    # HubSpot workflow webhook (v3 signature, 5-minute window)
    Scenario(
        "hubspot_contact.json",
        "hubspot-workflow",
        "hubspot",
        "application/json",
        json_payload("hubspot_contact"),
        CREATED,
        user_agent="HubSpot Connect 2.0 (http://dev.hubspot.com/)",
    ),
    Scenario(
        "hubspot_stale_timestamp.json",
        "hubspot-workflow",
        "hubspot",
        "application/json",
        json_payload("hubspot_contact"),
        UNAUTHORIZED,
        auth="stale",
        user_agent="HubSpot Connect 2.0 (http://dev.hubspot.com/)",
    ),
    Scenario(
        "hubspot_app_events_no_email.json",
        "hubspot-workflow",
        "hubspot",
        "application/json",
        real_capture("hubspot/app-webhook-contact-creation.json"),
        INVALID,
        user_agent="HubSpot Connect 2.0 (http://dev.hubspot.com/)",
    ),
    # Standard Webhooks (signed, 5-minute window)
    Scenario(
        "standard_webhooks_signup.json",
        "standard-webhooks",
        "standard_webhooks",
        "application/json",
        json_payload("standard_webhooks_signup"),
        CREATED,
        headers={"webhook-id": "msg_2pQ8rT4vX6zB1dF3hJ5kL7nP9s"},
        user_agent="Google-Apps-Script",
    ),
    Scenario(
        "standard_webhooks_stale_timestamp.json",
        "standard-webhooks",
        "standard_webhooks",
        "application/json",
        json_payload("standard_webhooks_signup"),
        UNAUTHORIZED,
        auth="stale",
        headers={"webhook-id": "msg_2pQ8rT4vX6zB1dF3hJ5kL7nP0t"},
        user_agent="Google-Apps-Script",
    ),
    # Jotform (token in the webhook URL; the URL, token included, is echoed in the body)
    Scenario(
        "jotform_signup.json",
        "jotform-registration",
        "jotform",
        JOTFORM_CONTENT_TYPE,
        jotform_body,
        CREATED,
        token="query",
        user_agent="JotForm",
    ),
    Scenario(
        "jotform_missing_token.json",
        "jotform-registration",
        "jotform",
        JOTFORM_CONTENT_TYPE,
        jotform_body,
        UNAUTHORIZED,
        token="none",
        user_agent="JotForm",
    ),
    Scenario(
        "jotform_real_capture_no_email.json",
        "jotform-registration",
        "jotform",
        "multipart/form-data; boundary=------------------------J1JNT4vbVO4FCC1qLG4HSv",
        real_capture("jotform/tutor-appointment.multipart", crlf=True),
        INVALID,
        token="query",
        user_agent="JotForm",
    ),
    # Gravity Forms Webhooks add-on ("All Fields", JSON, token header)
    Scenario(
        "gravity_forms_signup.json",
        "gravity-forms-signup",
        "gravity_forms",
        "application/json",
        json_payload("gravity_forms_entry"),
        CREATED,
        user_agent="WordPress/6.8.1; https://example.org",
    ),
    # Elementor Pro (URL-encoded, token in the URL)
    Scenario(
        "elementor_signup.json",
        "elementor-newsletter",
        "elementor",
        "application/x-www-form-urlencoded",
        form_payload("elementor_form"),
        CREATED,
        token="query",
        user_agent="WordPress/6.8.1; https://example.org",
    ),
    # Contact Form 7 + CF7 to Webhook (JSON, token header)
    Scenario(
        "cf7_signup.json",
        "cf7-contact",
        "cf7",
        "application/json; charset=UTF-8",
        json_payload("cf7_submission"),
        CREATED,
        user_agent="WordPress/6.8.1; https://example.org",
    ),
    # Cognito Forms (JSON, token in the URL)
    Scenario(
        "cognito_signup.json",
        "cognito-signup",
        "cognito",
        "application/json; charset=utf-8",
        json_payload("cognito_entry"),
        CREATED,
        token="query",
        user_agent="Cognito Forms",
    ),
    # Fillout (JSON, token header)
    Scenario(
        "fillout_signup.json",
        "fillout-waitlist",
        "fillout",
        "application/json",
        json_payload("fillout_submission"),
        CREATED,
        user_agent="Fillout",
    ),
    # Wufoo (URL-encoded, the Handshake Key in the body)
    Scenario(
        "wufoo_signup.json",
        "wufoo-signup",
        "wufoo",
        "application/x-www-form-urlencoded",
        wufoo_body,
        CREATED,
        token="body",
        user_agent="Wufoo.com",
    ),
    # Unbounce (URL-encoded with a data.json string of one-element arrays, token in the URL)
    Scenario(
        "unbounce_signup.json",
        "unbounce-landing",
        "unbounce",
        "application/x-www-form-urlencoded",
        unbounce_body,
        CREATED,
        token="query",
        user_agent="Unbounce Webhooks",
    ),
    # Google Forms via Apps Script (JSON, token header)
    Scenario(
        "google_forms_signup.json",
        "google-forms-signup",
        "google_forms",
        "application/json",
        json_payload("google_forms_response"),
        CREATED,
        user_agent="Mozilla/5.0 (compatible; Google-Apps-Script; beanserver; +https://script.google.com; id: UAEmdDd8)",
    ),
    # Generic sender (Zapier/Make) against the seeded demo account: the upsert policy's paths (local/events/seed.py)
    *(
        Scenario(
            file,
            route,
            "generic",
            "application/json",
            json_body(body),
            {"status": 200, "outcome": outcome},
            user_agent="Zapier",
        )
        for file, (route, body, outcome) in SEED_SIGNUPS.items()
    ),
)
BY_FILE = {scenario.file: scenario for scenario in SCENARIOS}
