"""The form-builder sample events in events/: how each is built and signed, and how to re-sign one at "now".

`python -m local.events` (re)writes every `events/<source>_<scenario>.json` listed in SCENARIOS and their
entries in `events/expected.json` (other entries are kept), and `events/sandbox_seed.json`, the demo account the
generic scenarios meet (SANDBOX_SEED). Values are invented; structures are the senders'
(see ../shared/reference/webhook-sources.md). Signatures use the demo secrets in local/demo_secrets.json.

Time-windowed schemes (Webflow, Formspree, WPForms, HubSpot, Standard Webhooks) go stale: the demo and tests
call `load_event(name, fresh=True)`, which re-signs such an event at the current time (a stale-timestamp
event stays stale, a wrong-secret event stays wrongly signed).

This module does not import signup_relay: its signers are an independent implementation of each scheme,
so the tests that verify these events with signup_relay.receive.sources cross-check both.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

ROOT = Path(__file__).resolve().parent.parent
EVENTS_DIR = ROOT / "events"
EXPECTED_FILE = EVENTS_DIR / "expected.json"
DEMO_SECRETS_FILE = ROOT / "local" / "demo_secrets.json"
REAL_FIXTURES = ROOT / "tests" / "fixtures" / "real"
HOST = "abc123defg.execute-api.us-east-1.amazonaws.com"
WRONG_SECRET = "not-the-route-secret-0000000000000000"
WRONG_WHSEC = "whsec_" + base64.b64encode(b"not-the-route-secret-000000000").decode()
STALE_SECONDS = 3600
GENERATED_AT = 1_764_149_400  # 2025-11-26T09:30:00Z: fixed, so regenerating gives identical files
WINDOWED = frozenset({"webflow", "formspree", "wpforms", "hubspot", "standard_webhooks"})


def demo_secrets() -> dict[str, str]:
    """Route name -> webhook secret of the demo routes (the single place they are defined)."""
    values = json.loads(DEMO_SECRETS_FILE.read_text())
    return {key: value for key, value in values.items() if not key.startswith("_")}


# --- signing (one function per scheme; `now` in unix seconds) ----------------------------------


def _hmac(secret: str | bytes, message: bytes) -> bytes:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, message, hashlib.sha256).digest()


def _php_json(body: bytes) -> bytes:
    """What WPForms signs for a URL-encoded body: wp_json_encode of the parameters in order."""
    params: dict[str, Any] = {}
    for name, value in parse_qsl(body.decode(), keep_blank_values=True):
        if name.endswith("[]"):
            params.setdefault(name[:-2], []).append(value)
        else:
            params[name] = value
    return json.dumps(params, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/").encode()


def sign_headers(source: str, event: dict[str, Any], body: bytes, secret: str, now: int) -> dict[str, str]:
    """The authentication headers `source` sends for `body` (empty for token-authenticated sources)."""
    headers = event["headers"]
    if source == "typeform":
        return {"typeform-signature": "sha256=" + base64.b64encode(_hmac(secret, body)).decode()}
    if source == "tally":
        return {"tally-signature": base64.b64encode(_hmac(secret, body)).decode()}
    if source == "webflow":
        ms = str(now * 1000)
        return {"x-webflow-timestamp": ms, "x-webflow-signature": _hmac(secret, f"{ms}:".encode() + body).hex()}
    if source == "formstack":
        return {"x-fs-signature": "sha256=" + _hmac(secret, body).hex()}
    if source == "framer":
        submission_id = headers["framer-webhook-submission-id"]
        return {"framer-signature": "sha256=" + _hmac(secret, body + submission_id.encode()).hex()}
    if source == "formspree":
        return {"formspree-signature": f"t={now},v1=" + _hmac(secret, f"{now}.".encode() + body).hex()}
    if source == "wpforms":
        signed = _php_json(body) if headers["content-type"].startswith("application/x-www-form-urlencoded") else body
        return {"x-wpforms-webhook-signature": f"t={now},v=" + _hmac(secret, f"{now}.".encode() + signed).hex()}
    if source == "hubspot":
        ms = str(now * 1000)
        uri = f"https://{headers['host']}{event['rawPath']}"
        if event.get("rawQueryString"):
            uri += "?" + event["rawQueryString"]
        message = event["requestContext"]["http"]["method"].encode() + uri.encode() + body + ms.encode()
        signature = base64.b64encode(_hmac(secret, message)).decode()
        return {"x-hubspot-request-timestamp": ms, "x-hubspot-signature-v3": signature}
    if source == "standard_webhooks":
        key = base64.b64decode(secret.removeprefix("whsec_"))
        msg_id = headers["webhook-id"]
        signature = base64.b64encode(_hmac(key, f"{msg_id}.{now}.".encode() + body)).decode()
        return {"webhook-timestamp": str(now), "webhook-signature": f"v1,{signature}"}
    return {}


# --- scenarios -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """One events/ file: the route it posts to, its body, and how it authenticates."""

    file: str
    route: str
    source: str
    content_type: str
    body: Callable[[dict[str, str]], bytes]  # secrets -> raw body
    expected: dict[str, Any]
    auth: str = "valid"  # valid | wrong_secret | stale | tampered | none
    token: str = "header"  # unsigned sources: header | query | body (Wufoo HandshakeKey) | none
    headers: dict[str, str] = field(default_factory=dict)
    user_agent: str = "Mozilla/5.0 (compatible)"
    source_ip: str = "203.0.113.10"


def _json(data: Any) -> Callable[[dict[str, str]], bytes]:
    return lambda _secrets: json.dumps(data).encode()


def _form(pairs: list[tuple[str, str]]) -> Callable[[dict[str, str]], bytes]:
    return lambda _secrets: urlencode(pairs).encode()


def _multipart(boundary: str, parts: list[tuple[str, str]]) -> bytes:
    lines: list[str] = []
    for name, value in parts:
        lines += [f"--{boundary}", f'Content-Disposition: form-data; name="{name}"', "", value]
    lines.append(f"--{boundary}--")
    return ("\r\n".join(lines) + "\r\n").encode()


def _real(path: str, *, crlf: bool = False) -> Callable[[dict[str, str]], bytes]:
    def build(_secrets: dict[str, str]) -> bytes:
        data = (REAL_FIXTURES / path).read_bytes()
        return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n") if crlf else data

    return build


CREATED = {"status": 200, "outcome": "created"}
UNAUTHORIZED = {"status": 401}
INVALID = {"status": 422}
UNSUPPORTED = {"status": 415}

TYPEFORM_SIGNUP = {
    "event_id": "01JDQ7ZK3M8W4T2N6B5X9C1RYE",
    "event_type": "form_response",
    "form_response": {
        "form_id": "kT9xLq2R",
        "token": "4h2k9mq7x1vz8c3n5b6p0w4r7t1y2u9i",
        "landed_at": "2025-11-26T09:27:41Z",
        "submitted_at": "2025-11-26T09:29:58Z",
        "hidden": {"utm_source": "newsletter-footer"},
        "definition": {
            "id": "kT9xLq2R",
            "title": "Join the Observatory newsletter",
            "fields": [
                {"id": "Ab3dEf6hIj9k", "ref": "first_name", "type": "short_text", "title": "First name"},
                {"id": "Lm2nOp5qRs8t", "ref": "last_name", "type": "short_text", "title": "Last name"},
                {"id": "Uv1wXy4zAb7c", "ref": "email", "type": "email", "title": "Your email"},
                {"id": "De0fGh3iJk6l", "ref": "phone", "type": "phone_number", "title": "Phone"},
                {
                    "id": "Mn9oPq2rSt5u",
                    "ref": "interests",
                    "type": "multiple_choice",
                    "title": "What would you like to hear about?",
                    "allow_multiple_selections": True,
                    "choices": [
                        {"id": "Vw8xYz1aBc4d", "label": "Monthly newsletter"},
                        {"id": "Ef7gHi0jKl3m", "label": "Star parties"},
                    ],
                },
                {"id": "No6pQr9sTu2v", "ref": "company_size", "type": "dropdown", "title": "Company size"},
                {"id": "Wx5yZa8bCd1e", "ref": "consent", "type": "legal", "title": "I agree to receive emails"},
            ],
        },
        "answers": [
            {
                "type": "text",
                "text": "Mary",
                "field": {"id": "Ab3dEf6hIj9k", "type": "short_text", "ref": "first_name"},
            },
            {
                "type": "text",
                "text": "Somerville",
                "field": {"id": "Lm2nOp5qRs8t", "type": "short_text", "ref": "last_name"},
            },
            {
                "type": "email",
                "email": "mary.somerville@example.com",
                "field": {"id": "Uv1wXy4zAb7c", "type": "email", "ref": "email"},
            },
            {
                "type": "phone_number",
                "phone_number": "+447700900123",
                "field": {"id": "De0fGh3iJk6l", "type": "phone_number", "ref": "phone"},
            },
            {
                "type": "choices",
                "choices": {"labels": ["Monthly newsletter", "Star parties"]},
                "field": {"id": "Mn9oPq2rSt5u", "type": "multiple_choice", "ref": "interests"},
            },
            {
                "type": "choice",
                "choice": {"label": "11-50"},
                "field": {"id": "No6pQr9sTu2v", "type": "dropdown", "ref": "company_size"},
            },
            {"type": "boolean", "boolean": True, "field": {"id": "Wx5yZa8bCd1e", "type": "legal", "ref": "consent"}},
        ],
    },
}
TYPEFORM_NO_EMAIL = json.loads(json.dumps(TYPEFORM_SIGNUP))
TYPEFORM_NO_EMAIL["event_id"] = "01JDQ80A4B7C2D5E8F1G3H6J9K"
TYPEFORM_NO_EMAIL["form_response"]["answers"] = [
    a for a in TYPEFORM_NO_EMAIL["form_response"]["answers"] if a["type"] != "email"
]

TALLY_SIGNUP = {
    "eventId": "7c1e9a52-3b4d-4f8e-a6c2-0d9b8e7f6a51",
    "eventType": "FORM_RESPONSE",
    "createdAt": "2025-11-26T09:29:12.481Z",
    "data": {
        "responseId": "mKx4Vb",
        "submissionId": "mKx4Vb",
        "respondentId": "Ljr8Qz",
        "formId": "wQ7eRt",
        "formName": "Comet watchers",
        "createdAt": "2025-11-26T09:29:12.000Z",
        "fields": [
            {
                "key": "question_5Bq0aN",
                "label": "Email",
                "type": "INPUT_EMAIL",
                "value": "Caroline.Herschel@Example.com",
            },
            {"key": "question_d0RxzY", "label": "First name", "type": "INPUT_TEXT", "value": "Caroline"},
            {"key": "question_Y4ZO6a", "label": "Last name", "type": "INPUT_TEXT", "value": "Herschel"},
            {"key": "question_D7kE1m", "label": "Phone", "type": "INPUT_PHONE_NUMBER", "value": "+49 511 1234567"},
            {
                "key": "question_xDJv8j",
                "label": "Lists",
                "type": "CHECKBOXES",
                "value": ["5c3e1d7a-0b2f-4a9e-8d6c-1f4b7a2e9c05"],
                "options": [
                    {"id": "5c3e1d7a-0b2f-4a9e-8d6c-1f4b7a2e9c05", "text": "Comet alerts"},
                    {"id": "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d", "text": "Monthly newsletter"},
                ],
            },
            {"key": "question_mO4r1b_utm", "label": "utm_source", "type": "HIDDEN_FIELDS", "value": "mastodon"},
        ],
    },
}
TALLY_NO_EMAIL = json.loads(json.dumps(TALLY_SIGNUP))
TALLY_NO_EMAIL["eventId"] = "0b6f3c21-9d8e-4a7b-b5c4-3e2f1a0d9c88"
TALLY_NO_EMAIL["data"]["fields"][0]["value"] = ""

WEBFLOW_SIGNUP = {
    "triggerType": "form_submission",
    "payload": {
        "name": "Contact us",
        "siteId": "65427cf400e02b306eaa049c",
        "data": {
            "Name": "Emmy Noether",
            "Email": "emmy.noether@example.com",
            "Company": "Erlangen Algebra GmbH",
            "Phone Number": 4991318500,
            "Message": "Please send me the rings brochure.",
            "Newsletter": "true",
        },
        "schema": [
            {"fieldName": "Name", "fieldType": "FormTextInput", "fieldElementId": "6a1f0b2c-3d4e-4f5a-8b9c-0d1e2f3a"},
            {"fieldName": "Email", "fieldType": "FormEmail", "fieldElementId": "7b2a1c3d-3d4e-4f5a-8b9c-0d1e2f3a"},
            {
                "fieldName": "Company",
                "fieldType": "FormTextInput",
                "fieldElementId": "8c3b2d4e-3d4e-4f5a-8b9c-0d1e2f3a",
            },
            {
                "fieldName": "Phone Number",
                "fieldType": "FormPhone",
                "fieldElementId": "9d4c3e5f-3d4e-4f5a-8b9c-0d1e2f3a",
            },
            {"fieldName": "Message", "fieldType": "FormTextarea", "fieldElementId": "0e5d4f6a-3d4e-4f5a-8b9c-0d1e2f3a"},
            {
                "fieldName": "Newsletter",
                "fieldType": "FormCheckboxInput",
                "fieldElementId": "1f6e5a7b-3d4e-4f5a-8b9c-0d1e2f3a",
            },
        ],
        "submittedAt": "2025-11-26T09:29:30.112Z",
        "id": "6745973a2f1e0c3b9d8a7f60",
        "formId": "65429eadebe8a9f3a30f62d0",
        "formElementId": "4e038d2c-6a1e-4953-7be9-a59a2b453177",
    },
}

FORMSTACK_SIGNUP = [
    ("FormID", "5829341"),
    ("UniqueID", "1187654321"),
    ("Name", "first = Sophie\nlast = Germain"),
    ("Email", "sophie.germain@example.com"),
    (
        "Address",
        "address = 12 Rue de Savoie\naddress2 = Apt 3\ncity = Paris\nstate = Ile-de-France\nzip = 75006\n"
        "country = France",
    ),
    ("Birthday", "Apr 01, 1976"),
    ("Subscribe to updates", "Yes"),
    ("HandshakeKey", "formstack-shared-secret-not-used"),
]

FRAMER_SIGNUP = {
    "name": "Lise Meitner",
    "email": "lise.meitner@example.com",
    "company": "Kaiser Wilhelm Institut",
    "newsletter": "on",
}

FORMSPREE_SIGNUP = {
    "form": "xvgpqzke",
    "submission": {
        "_date": "2025-11-26T09:29:44.918Z",
        "_subject": "New submission from example.com",
        "email": "rosalind.franklin@example.com",
        "name": "Rosalind Franklin",
        "message": "Interested in the crystallography workshop.",
        "newsletter": "yes",
    },
}

WPFORMS_SIGNUP = [
    ("email", "chien-shiung.wu@example.com"),
    ("first_name", "Chien-Shiung"),
    ("last_name", "Wu"),
    ("company", "Université de Genève / Physique"),
    ("lists", "Newsletter||Events"),
    ("consent", "I agree to receive emails"),
    ("page_url", "https://example.org/newsletter/"),
]

HUBSPOT_CONTACT = {
    "vid": 1201,
    "canonical-vid": 1201,
    "portal-id": 62515,
    "is-contact": True,
    "properties": {
        "email": {"value": "katherine.johnson@example.com", "versions": []},
        "firstname": {"value": "Katherine", "versions": []},
        "lastname": {"value": "Johnson", "versions": []},
        "company": {"value": "Langley Research", "versions": []},
        "jobtitle": {"value": "Research Mathematician", "versions": []},
        "phone": {"value": "+1 757 555 0142", "versions": []},
        "lifecyclestage": {"value": "lead", "versions": []},
    },
}

STANDARD_SIGNUP = {
    "type": "signup.created",
    "timestamp": "2025-11-26T09:29:50Z",
    "data": {
        "email": "ada.yonath@example.com",
        "first_name": "Ada",
        "last_name": "Yonath",
        "job_title": "Structural Biologist",
        "lists": ["Newsletter"],
        "consent": True,
        "form_name": "Ribosome club (Apps Script)",
    },
}


def _jotform_body(secrets: dict[str, str], *, with_email: bool = True) -> bytes:
    raw: dict[str, Any] = {
        "slug": "submit/243491234567890",
        "jsExecutionTracker": "build-date-1764149300000=>init-started:1764149301000=>onsubmit-fired:1764149390000",
        "submitSource": "form",
        "buildDate": "1764149300000",
        "q3_name": {"first": "Barbara", "last": "McClintock"},
        "q5_phoneNumber": {"full": "(607) 555-0199"},
        "q6_birthday": {"month": "06", "day": "16", "year": "1902"},
        "q7_consent": ["I agree to receive emails"],
        "q8_interests": ["Genetics seminars", "Newsletter"],
        "event_id": "1764149301000_243491234567890_aB3dE9f",
        "timeToSubmit": "89",
        "validatedNewRequiredFieldIDs": '{"new":1}',
        "path": "/submit/243491234567890",
    }
    if with_email:
        raw["q4_email"] = "barbara.mcclintock@example.com"
    raw_request = json.dumps(raw).replace("/", "\\/")
    webhook_url = f"https://{HOST}/hooks/jotform-registration?token={secrets['jotform-registration']}"
    pretty = "Name:Barbara McClintock, E-mail:barbara.mcclintock@example.com, Phone Number:(607) 555-0199"
    parts = [
        ("action", ""),
        ("webhookURL", webhook_url),
        ("username", "cornellgenetics"),
        ("formID", "243491234567890"),
        ("type", "WEB"),
        ("customParams", ""),
        ("product", ""),
        ("formTitle", "Seminar registration"),
        ("customTitle", ""),
        ("submissionID", "6084250982513099999" if with_email else "6084250982513000001"),
        ("event", ""),
        ("documentID", ""),
        ("teamID", ""),
        ("subject", ""),
        ("isSilent", ""),
        ("customBody", ""),
        ("rawRequest", raw_request),
        ("fromTable", ""),
        ("appID", ""),
        ("pretty", pretty),
        ("unread", ""),
        ("parent", ""),
        ("ip", "198.51.100.23"),
    ]
    return _multipart("------------------------Jf7kQ2xW9mR4tB1z", parts)


GRAVITY_ENTRY = {
    "id": "1042",
    "form_id": "7",
    "post_id": None,
    "date_created": "2025-11-26 09:29:21",
    "date_updated": "2025-11-26 09:29:21",
    "is_starred": 0,
    "is_read": 0,
    "ip": "198.51.100.77",
    "source_url": "https://example.org/join/",
    "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6)",
    "currency": "USD",
    "created_by": None,
    "status": "active",
    "1.3": "Marie",
    "1.6": "Tharp",
    "2": "marie.tharp@example.com",
    "3": "Lamont Geological",
    "4.1": "Yes, subscribe me",
}

ELEMENTOR_FORM = [
    ("Name", "Hedy Lamarr"),
    ("Email", "hedy.lamarr@example.com"),
    ("Newsletter", "on"),
    ("Date", "November 26, 2025"),
    ("Time", "9:29 am"),
    ("Page URL", "https://example.org/"),
    ("User Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"),
    ("Remote IP", "198.51.100.41"),
    ("Powered by", "Elementor"),
    ("form_id", "3f2a1b9"),
    ("form_name", "Footer newsletter"),
]

CF7_SUBMISSION = {
    "your-name": "Annie Easley",
    "your-email": "annie.easley@example.com",
    "your-phone": "+1 216 555 0117",
    "your-subject": "Newsletter",
    "your-message": "Sign me up for launch updates.",
    "newsletter": ["Yes"],
    "_remote_ip": "198.51.100.88",
    "_url": "https://example.org/contact/",
    "_date": "November 26, 2025",
    "_time": "9:29 am",
    "_post_title": "Contact",
}

COGNITO_ENTRY = {
    "Form": {"Id": "5", "InternalName": "Signup", "Name": "Sign up"},
    "$version": 7,
    "$etag": "W/\"datetime'2025-11-26T09%3A29%3A35.2110000Z'\"",
    "Id": "5-12",
    "Name": {"First": "Mae", "Last": "Jemison", "FirstAndLast": "Mae Jemison"},
    "Email": "mae.jemison@example.com",
    "Phone": "(312) 555-0100",
    "Address": {
        "Line1": "1 Endeavour Way",
        "Line2": None,
        "City": "Decatur",
        "State": "AL",
        "PostalCode": "35601",
        "Country": "United States",
        "FullAddress": "1 Endeavour Way, Decatur, AL 35601",
    },
    "JoinNewsletter": True,
    "Entry": {
        "Number": 12,
        "DateCreated": "2025-11-26T09:29:35.211Z",
        "DateSubmitted": "2025-11-26T09:29:35.211Z",
        "DateUpdated": "2025-11-26T09:29:35.211Z",
        "Status": "Submitted",
        "Version": 1,
    },
}

FILLOUT_SUBMISSION = {
    "formId": "tx7K2fQpR9us",
    "formName": "Telescope waitlist",
    "submission": {
        "submissionId": "b1f4e7a2-9c3d-4e8f-a1b2-c3d4e5f6a7b8",
        "submissionTime": "2025-11-26T09:29:40.000Z",
        "lastUpdatedAt": "2025-11-26T09:29:40.000Z",
        "questions": [
            {"id": "5e4T", "name": "Email", "type": "EmailInput", "value": "vera.rubin@example.com"},
            {"id": "8uQw", "name": "First name", "type": "ShortAnswer", "value": "Vera"},
            {"id": "2kLp", "name": "Last name", "type": "ShortAnswer", "value": "Rubin"},
            {"id": "9xZa", "name": "Organization", "type": "ShortAnswer", "value": "Carnegie Institution"},
        ],
        "calculations": [],
        "urlParameters": [{"id": "utm_source", "name": "utm_source", "value": "newsletter"}],
        "scheduling": [],
        "payments": [],
    },
}


def _wufoo_pairs(secrets: dict[str, str]) -> bytes:
    structure = {
        "Fields": [
            {
                "Title": "Name",
                "Type": "shortname",
                "ID": "Field1",
                "SubFields": [
                    {"DefaultVal": "", "ID": "Field1", "Label": "First"},
                    {"DefaultVal": "", "ID": "Field2", "Label": "Last"},
                ],
            },
            {"Title": "Email", "Type": "email", "ID": "Field3"},
            {"Title": "Phone Number", "Type": "phone", "ID": "Field4"},
            {"Title": "Organization", "Type": "text", "ID": "Field5"},
        ]
    }
    form = {"Name": "Variable star society", "Url": "variable-star-society", "Hash": "z1abcd2e3fgh4ij"}
    pairs = [
        ("Field1", "Henrietta"),
        ("Field2", "Leavitt"),
        ("Field3", "henrietta.leavitt@example.com"),
        ("Field4", "6175550134"),
        ("Field5", "Harvard College Observatory"),
        ("CreatedBy", "public"),
        ("DateCreated", "2025-11-26 09:29:47"),
        ("EntryId", "42"),
        ("IP", "198.51.100.99"),
        ("HandshakeKey", secrets["wufoo-signup"]),
        ("FieldStructure", json.dumps(structure)),
        ("FormStructure", json.dumps(form)),
    ]
    return urlencode(pairs).encode()


UNBOUNCE_DATA = {
    "first_name": ["Cecilia"],
    "last_name": ["Payne"],
    "email": ["cecilia.payne@example.com"],
    "newsletter_opt_in": ["yes"],
    "ip_address": ["198.51.100.61"],
    "page_uuid": ["a2838d98-4cf4-11df-a3fd-00163e372d58"],
    "variant": ["a"],
    "time_submitted": ["09:29 AM UTC"],
    "date_submitted": ["2025-11-26"],
    "page_url": ["https://unbouncepages.com/stellar-atmospheres/"],
    "page_name": ["Stellar atmospheres"],
}
UNBOUNCE_FORM = [
    ("page_id", "a2838d98-4cf4-11df-a3fd-00163e372d58"),
    ("page_name", "Stellar atmospheres"),
    ("variant", "a"),
    ("page_url", "https://unbouncepages.com/stellar-atmospheres/"),
    ("data.json", json.dumps(UNBOUNCE_DATA)),
]

GOOGLE_FORMS_RESPONSE = {
    "event_id": "2_ABaOnud9xT4mK1qWzL0pR7sY3vB8nC5eF2hJ6",
    "event_type": "form_response",
    "form_response": {
        "form_id": "1FAIpQLSd8x7Wq3ZkT9vY2mN4bC6hJ1rL5pS0",
        "form_title": "Radio astronomy night",
        "email": "jocelyn.bell@example.com",
        "submitted_at": "2025-11-26T09:29:53.000Z",
        "answers": [
            {"response": "Jocelyn", "field": {"id": 111, "title": "First name", "type": "TEXT", "index": 0}},
            {"response": "Bell Burnell", "field": {"id": 222, "title": "Last name", "type": "TEXT", "index": 1}},
            {
                "response": "Yes",
                "field": {"id": 333, "title": "Subscribe to our newsletter?", "type": "MULTIPLE_CHOICE", "index": 2},
            },
            {"response": ["Pulsars"], "field": {"id": 444, "title": "Topics", "type": "CHECKBOX", "index": 3}},
        ],
    },
}

# --- the seeded demo account (events/sandbox_seed.json) and the generic sign-ups that meet it ------------
# The local stack seeds the EMBEDDED sandbox with SANDBOX_SEED when LOCAL_SANDBOX_SEED names that file (`make demo`
# does; see local/sandbox_seed.py), so the demo shows the policy of design §3 on an account that looks real.

SEED_FILE = EVENTS_DIR / "sandbox_seed.json"
DELETED_EMAIL = "mary.anning@example.com"
UNSUBSCRIBED_EMAIL = "inge.lehmann@example.com"
RESUBSCRIBING_EMAIL = "williamina.fleming@example.com"
ACTIVE_EMAIL = "dorothy.hodgkin@example.com"
LONG_EMAIL = "maria.goeppert-mayer.nuclear-shell-model@physics-department.example.edu"  # 71: too long for sign_up_form
UNKNOWN_LIST_EMAIL = "annie.jump.cannon@example.com"
UNKNOWN_LIST = "Variable star observers"

SANDBOX_SEED: dict[str, Any] = {
    "_comment": (
        "The demo account of `make demo` (LOCAL_SANDBOX_SEED, embedded sandbox only; local/sandbox_seed.py). "
        "Written by `python -m local.events` with the events that meet it: edit SANDBOX_SEED there."
    ),
    "lists": ["Newsletter", "Customers"],
    "custom_fields": ["Member since"],
    "contacts": [
        {
            "_scenario": "generic_returning_deleted_contact.json: soft-deleted (the POST 409 trap) -> revived",
            "email": DELETED_EMAIL,
            "first_name": "Mary",
            "last_name": "Anning",
            "lists": ["Newsletter"],
            "deleted": True,
        },
        {
            "_scenario": "generic_unsubscribed_no_consent.json: unsubscribed herself -> kept_unsubscribed",
            "email": UNSUBSCRIBED_EMAIL,
            "first_name": "Inge",
            "last_name": "Lehmann",
            "lists": ["Newsletter"],
            "permission_to_send": "unsubscribed",
            "opt_out_source": "Contact",
            "opt_out_reason": "Too many emails",
        },
        {
            "_scenario": "generic_unsubscribed_opts_in_again.json: unsubscribed herself, ticks consent -> resubscribed",
            "email": RESUBSCRIBING_EMAIL,
            "first_name": "Williamina",
            "last_name": "Fleming",
            "permission_to_send": "unsubscribed",
            "opt_out_source": "Contact",
        },
        {
            "_scenario": "generic_existing_contact_update.json: active, fields the form never sends -> updated",
            "email": ACTIVE_EMAIL,
            "first_name": "Dorothy",
            "last_name": "Hodgkin",
            "job_title": "Crystallographer",
            "phone_numbers": [{"phone_number": "+44 1865 555 0110", "kind": "work"}],
            "street_addresses": [
                {
                    "kind": "work",
                    "street": "South Parks Road",
                    "city": "Oxford",
                    "postal_code": "OX1 3QZ",
                    "country": "United Kingdom",
                }
            ],
            "birthday_month": 5,
            "birthday_day": 12,
            "custom_fields": {"Member since": "1964"},
            "lists": ["Customers"],
        },
    ],
}


SCENARIOS: tuple[Scenario, ...] = (
    # Typeform (signed, no timestamp)
    Scenario(
        "typeform_signup.json",
        "typeform-newsletter",
        "typeform",
        "application/json",
        _json(TYPEFORM_SIGNUP),
        CREATED,
        user_agent="Typeform Webhooks",
    ),
    Scenario(
        "typeform_tampered_body.json",
        "typeform-newsletter",
        "typeform",
        "application/json",
        _json(TYPEFORM_SIGNUP),
        UNAUTHORIZED,
        auth="tampered",
        user_agent="Typeform Webhooks",
    ),
    Scenario(
        "typeform_missing_email.json",
        "typeform-newsletter",
        "typeform",
        "application/json",
        _json(TYPEFORM_NO_EMAIL),
        INVALID,
        user_agent="Typeform Webhooks",
    ),
    # Tally (signed, no timestamp)
    Scenario(
        "tally_signup.json",
        "tally-newsletter",
        "tally",
        "application/json",
        _json(TALLY_SIGNUP),
        CREATED,
        user_agent="Tally Webhooks",
    ),
    Scenario(
        "tally_wrong_secret.json",
        "tally-newsletter",
        "tally",
        "application/json",
        _json(TALLY_SIGNUP),
        UNAUTHORIZED,
        auth="wrong_secret",
        user_agent="Tally Webhooks",
    ),
    Scenario(
        "tally_missing_email.json",
        "tally-newsletter",
        "tally",
        "application/json",
        _json(TALLY_NO_EMAIL),
        INVALID,
        user_agent="Tally Webhooks",
    ),
    # Webflow (signed, 5-minute window)
    Scenario(
        "webflow_signup.json",
        "webflow-contact",
        "webflow",
        "application/json",
        _json(WEBFLOW_SIGNUP),
        CREATED,
        user_agent="Webflow-Webhook/1.0",
    ),
    Scenario(
        "webflow_stale_timestamp.json",
        "webflow-contact",
        "webflow",
        "application/json",
        _json(WEBFLOW_SIGNUP),
        UNAUTHORIZED,
        auth="stale",
        user_agent="Webflow-Webhook/1.0",
    ),
    Scenario(
        "webflow_bad_signature.json",
        "webflow-contact",
        "webflow",
        "application/json",
        _json(WEBFLOW_SIGNUP),
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
        _form(FORMSTACK_SIGNUP),
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
        _json(FRAMER_SIGNUP),
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
        _json(FORMSPREE_SIGNUP),
        CREATED,
        user_agent="Formspree",
    ),
    Scenario(
        "formspree_stale_timestamp.json",
        "formspree-contact",
        "formspree",
        "application/json",
        _json(FORMSPREE_SIGNUP),
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
        _form(WPFORMS_SIGNUP),
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
        _json(HUBSPOT_CONTACT),
        CREATED,
        user_agent="HubSpot Connect 2.0 (http://dev.hubspot.com/)",
    ),
    Scenario(
        "hubspot_stale_timestamp.json",
        "hubspot-workflow",
        "hubspot",
        "application/json",
        _json(HUBSPOT_CONTACT),
        UNAUTHORIZED,
        auth="stale",
        user_agent="HubSpot Connect 2.0 (http://dev.hubspot.com/)",
    ),
    Scenario(
        "hubspot_app_events_no_email.json",
        "hubspot-workflow",
        "hubspot",
        "application/json",
        _real("hubspot/app-webhook-contact-creation.json"),
        INVALID,
        user_agent="HubSpot Connect 2.0 (http://dev.hubspot.com/)",
    ),
    # Standard Webhooks (signed, 5-minute window)
    Scenario(
        "standard_webhooks_signup.json",
        "standard-webhooks",
        "standard_webhooks",
        "application/json",
        _json(STANDARD_SIGNUP),
        CREATED,
        headers={"webhook-id": "msg_2pQ8rT4vX6zB1dF3hJ5kL7nP9s"},
        user_agent="Google-Apps-Script",
    ),
    Scenario(
        "standard_webhooks_stale_timestamp.json",
        "standard-webhooks",
        "standard_webhooks",
        "application/json",
        _json(STANDARD_SIGNUP),
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
        "multipart/form-data; boundary=------------------------Jf7kQ2xW9mR4tB1z",
        _jotform_body,
        CREATED,
        token="query",
        user_agent="JotForm",
    ),
    Scenario(
        "jotform_missing_token.json",
        "jotform-registration",
        "jotform",
        "multipart/form-data; boundary=------------------------Jf7kQ2xW9mR4tB1z",
        _jotform_body,
        UNAUTHORIZED,
        token="none",
        user_agent="JotForm",
    ),
    Scenario(
        "jotform_real_capture_no_email.json",
        "jotform-registration",
        "jotform",
        "multipart/form-data; boundary=------------------------J1JNT4vbVO4FCC1qLG4HSv",
        _real("jotform/tutor-appointment.multipart", crlf=True),
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
        _json(GRAVITY_ENTRY),
        CREATED,
        user_agent="WordPress/6.8.1; https://example.org",
    ),
    # Elementor Pro (URL-encoded, token in the URL)
    Scenario(
        "elementor_signup.json",
        "elementor-newsletter",
        "elementor",
        "application/x-www-form-urlencoded",
        _form(ELEMENTOR_FORM),
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
        _json(CF7_SUBMISSION),
        CREATED,
        user_agent="WordPress/6.8.1; https://example.org",
    ),
    # Cognito Forms (JSON, token in the URL)
    Scenario(
        "cognito_signup.json",
        "cognito-signup",
        "cognito",
        "application/json; charset=utf-8",
        _json(COGNITO_ENTRY),
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
        _json(FILLOUT_SUBMISSION),
        CREATED,
        user_agent="Fillout",
    ),
    # Wufoo (URL-encoded, the Handshake Key in the body)
    Scenario(
        "wufoo_signup.json",
        "wufoo-signup",
        "wufoo",
        "application/x-www-form-urlencoded",
        _wufoo_pairs,
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
        _form(UNBOUNCE_FORM),
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
        _json(GOOGLE_FORMS_RESPONSE),
        CREATED,
        user_agent="Mozilla/5.0 (compatible; Google-Apps-Script; beanserver; +https://script.google.com; id: UAEmdDd8)",
    ),
    # Generic sender (Zapier/Make) against the seeded demo account (SANDBOX_SEED): the upsert policy of design §3
    Scenario(
        "generic_returning_deleted_contact.json",
        "generic",
        "generic",
        "application/json",
        _json({"email": DELETED_EMAIL, "first_name": "Mary", "last_name": "Anning", "lists": "newsletter"}),
        {"status": 200, "outcome": "revived"},
        user_agent="Zapier",
    ),
    Scenario(
        "generic_unsubscribed_no_consent.json",
        "generic",
        "generic",
        "application/json",
        _json({"email": UNSUBSCRIBED_EMAIL, "first_name": "Inge", "last_name": "Lehmann", "company": "Geodetic Inst."}),
        {"status": 200, "outcome": "kept_unsubscribed"},
        user_agent="Zapier",
    ),
    Scenario(
        "generic_unsubscribed_opts_in_again.json",
        "generic",
        "generic",
        "application/json",
        _json({"email": RESUBSCRIBING_EMAIL, "first_name": "Williamina", "last_name": "Fleming", "consent": "yes"}),
        {"status": 200, "outcome": "resubscribed"},
        user_agent="Zapier",
    ),
    Scenario(
        "generic_existing_contact_update.json",
        "generic",
        "generic",
        "application/json",
        _json({"email": ACTIVE_EMAIL, "company": "University of Oxford", "lists": "events"}),
        {"status": 200, "outcome": "updated"},
        user_agent="Zapier",
    ),
    Scenario(
        "generic_long_email.json",
        "generic",
        "generic",
        "application/json",
        _json({"email": LONG_EMAIL, "first_name": "Maria", "last_name": "Goeppert Mayer", "consent": "yes"}),
        CREATED,
        user_agent="Zapier",
    ),
    Scenario(
        "generic_list_not_in_account.json",
        "generic-existing-lists",
        "generic",
        "application/json",
        _json({"email": UNKNOWN_LIST_EMAIL, "first_name": "Annie", "last_name": "Cannon", "lists": UNKNOWN_LIST}),
        {"status": 200, "outcome": "rejected"},
        user_agent="Zapier",
    ),
)
BY_FILE = {scenario.file: scenario for scenario in SCENARIOS}


# --- building events -------------------------------------------------------------------------


def _is_text(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip() in ("application/json", "text/xml", "text/plain")


def build_event(scenario: Scenario, secrets: dict[str, str], now: int) -> dict[str, Any]:
    """The API Gateway HTTP API (payload v2) event of a scenario, signed at `now` (unix seconds)."""
    secret = secrets[scenario.route]
    body = scenario.body(secrets)
    query = {"token": secret} if scenario.token == "query" else {}
    headers = {
        "accept": "*/*",
        "content-length": str(len(body)),
        "content-type": scenario.content_type,
        "host": HOST,
        "user-agent": scenario.user_agent,
        "x-amzn-trace-id": "Root=1-674596a0-0123456789abcdef01234567",
        "x-forwarded-for": scenario.source_ip,
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
        **scenario.headers,
    }
    if scenario.token == "header":
        headers["x-signup-relay-token"] = secret
    path = f"/hooks/{scenario.route}"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "POST /hooks/{route}",
        "rawPath": path,
        "rawQueryString": urlencode(query),
        "headers": headers,
        **({"queryStringParameters": query} if query else {}),
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123defg",
            "domainName": HOST,
            "domainPrefix": "abc123defg",
            "http": {
                "method": "POST",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": scenario.source_ip,
                "userAgent": scenario.user_agent,
            },
            "requestId": base64.b64encode(hashlib.sha256(scenario.file.encode()).digest()[:10]).decode(),
            "routeKey": "POST /hooks/{route}",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": now * 1000,
        },
        "pathParameters": {"route": scenario.route},
    }
    _set_body(event, body, scenario.content_type)
    _authenticate(event, scenario, secrets, now)
    return event


def _set_body(event: dict[str, Any], body: bytes, content_type: str) -> None:
    # HTTP APIs pass JSON/text through and base64-encode form and multipart bodies.
    if _is_text(content_type):
        event["body"], event["isBase64Encoded"] = body.decode(), False
    else:
        event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True


def event_body(event: dict[str, Any]) -> bytes:
    """The raw body bytes of an event."""
    body = event.get("body") or ""
    return base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()


def _authenticate(event: dict[str, Any], scenario: Scenario, secrets: dict[str, str], now: int) -> None:
    if scenario.source not in WINDOWED and scenario.source not in ("typeform", "tally", "formstack", "framer"):
        return  # token sources: the token is already in the header, URL or body
    secret = secrets[scenario.route]
    if scenario.auth == "wrong_secret":
        secret = WRONG_WHSEC if scenario.source == "standard_webhooks" else WRONG_SECRET
    timestamp = now - STALE_SECONDS if scenario.auth == "stale" else now
    body = event_body(event)
    event["headers"].update(sign_headers(scenario.source, event, body, secret, timestamp))
    if scenario.auth == "tampered":  # signed, then changed in transit
        tampered = body.replace(b"mary.somerville@example.com", b"mallory@example.com")
        _set_body(event, tampered, scenario.content_type)
        event["headers"]["content-length"] = str(len(tampered))


def load_event(name: str, *, fresh: bool = True, host: str | None = None) -> dict[str, Any]:
    """An events/ file; with `fresh`, a time-windowed signature is re-made at the current time.

    `host`: the Host the event will be sent to (HubSpot signs the full URL): the event's host header is
    replaced and the event re-signed. Events not generated here (e.g. generic_signup.json) are returned
    unchanged.
    """
    event: dict[str, Any] = json.loads((EVENTS_DIR / name).read_text())
    scenario = BY_FILE.get(name)
    if scenario is None:
        return event
    if host is not None:
        event["headers"]["host"] = host
        event["requestContext"]["domainName"] = host
    if (fresh and scenario.source in WINDOWED) or (host is not None and scenario.source == "hubspot"):
        _authenticate(event, scenario, demo_secrets(), int(time.time()))
    return event


def write_events(now: int = GENERATED_AT) -> list[str]:
    """(Re)write every scenario's event file, its entry in events/expected.json, and events/sandbox_seed.json."""
    secrets = demo_secrets()
    written = []
    for scenario in SCENARIOS:
        event = build_event(scenario, secrets, now)
        (EVENTS_DIR / scenario.file).write_text(json.dumps(event, indent=2, ensure_ascii=False) + "\n")
        written.append(scenario.file)
    expected = json.loads(EXPECTED_FILE.read_text()) if EXPECTED_FILE.exists() else {}
    expected.update({scenario.file: scenario.expected for scenario in SCENARIOS})
    EXPECTED_FILE.write_text(json.dumps(dict(sorted(expected.items())), indent=2) + "\n")
    SEED_FILE.write_text(json.dumps(SANDBOX_SEED, indent=2, ensure_ascii=False) + "\n")
    written.append(SEED_FILE.name)
    return written


if __name__ == "__main__":
    for file in write_events():
        print(f"events/{file}")
