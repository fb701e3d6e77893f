"""HubSpot workflow "Send a webhook" action, signed with request signature v3.

`X-HubSpot-Signature-v3: <base64 HMAC-SHA256(client secret, method + URI + body + timestamp)>`,
`X-HubSpot-Request-Timestamp` in milliseconds, rejected outside 5 minutes. The URI is the full URL HubSpot
called (https://host/path?query); the route secret is the HubSpot app's client secret.

Body: the enrolled contact (`properties.<name>.value`, or plain `properties.<name>`), or a customised flat
JSON body. App (Webhooks API) subscriptions send a JSON array of thin events with no email: those are
authenticated but answered 422 with a clear reason.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from signup_relay.errors import QUOTE_LIMIT, SubmissionInvalidError, UndecodableBodyError, bounded
from signup_relay.models import RawRequest
from signup_relay.receive.sources._common import (
    answers_from_mapping,
    check_signature,
    check_window,
    decode_json,
    header,
    hmac_sha256,
    parse_timestamp,
    require_header,
    require_secret,
    text_of,
    to_value,
)
from signup_relay.receive.submission import KIND_EMAIL, KIND_FIRST_NAME, KIND_LAST_NAME, KIND_PHONE, Answer, Submission

NAME = "hubspot"
SIGNATURE_HEADER = "x-hubspot-signature-v3"
TIMESTAMP_HEADER = "x-hubspot-request-timestamp"
KINDS = {"email": KIND_EMAIL, "firstname": KIND_FIRST_NAME, "lastname": KIND_LAST_NAME, "phone": KIND_PHONE}
# HubSpot decodes these percent-escapes in the URI before signing (v3 validation docs).
_DECODED = ("%3A", "%2F", "%3F", "%40", "%21", "%24", "%27", "%28", "%29", "%2A", "%2C", "%3B")


def request_uri(request: RawRequest) -> str:
    """The URL HubSpot called, as it signs it."""
    host = header(request, "x-forwarded-host") or header(request, "host") or ""
    uri = f"https://{host}{request.path}"
    if request.raw_query:
        uri += f"?{request.raw_query}"
    for escape in _DECODED:
        uri = uri.replace(escape, unquote(escape)).replace(escape.lower(), unquote(escape))
    return uri


def sign(method: str, uri: str, body: bytes, secret: str, timestamp_ms: str) -> str:
    message = method.upper().encode() + uri.encode() + body + timestamp_ms.encode()
    return base64.b64encode(hmac_sha256(secret, message)).decode()


def verify(request: RawRequest, secret: str, now: datetime) -> None:
    require_secret(secret)
    timestamp = require_header(request, TIMESTAMP_HEADER)
    uri = request_uri(request)
    # The URI without its query (which may carry personal data): the host and path a proxy may have changed.
    where = bounded(uri.split("?")[0], QUOTE_LIMIT) + ("?<query>" if "?" in uri else "")
    signed = f"<base64 HMAC-SHA256 of {request.method.upper()} + {where}"
    signed += f" + <raw body> + <{TIMESTAMP_HEADER}>>"
    expected = sign(request.method, uri, request.body, secret, timestamp)
    check_signature(request, SIGNATURE_HEADER, expected, signed=signed)
    check_window(parse_timestamp(timestamp, milliseconds=True), now)


def _contact_answers(contact: dict[str, Any]) -> tuple[Answer, ...]:
    properties = contact.get("properties")
    if not isinstance(properties, dict):
        return answers_from_mapping(contact)
    answers = []
    for name, raw in properties.items():
        value = to_value(raw.get("value") if isinstance(raw, dict) else raw)
        if value is not None:
            answers.append(Answer(key=str(name), value=value, label=str(name), kind=KINDS.get(str(name))))
    return tuple(answers)


def parse(request: RawRequest) -> Submission:
    data = decode_json(request)
    if isinstance(data, list):
        events = [e for e in data if isinstance(e, dict)]
        if events and all("subscriptionType" in e for e in events):
            kinds = sorted({str(e.get("subscriptionType")) for e in events})
            raise SubmissionInvalidError(
                "HubSpot app webhook events carry no email",
                {
                    "email": f"missing: app subscription events ({', '.join(kinds)}) carry only an objectId; "
                    "send contacts with a workflow 'Send a webhook' action instead"
                },
            )
        if len(events) != 1:
            raise SubmissionInvalidError(
                "one contact per request expected", {"body": f"a JSON array of {len(data)} items"}
            )
        data = events[0]
    if not isinstance(data, dict):
        raise UndecodableBodyError("not a HubSpot contact: body is not an object")
    return Submission(
        source=NAME,
        answers=_contact_answers(data),
        form_id=text_of(data.get("portal-id") or data.get("portalId")),
    )
