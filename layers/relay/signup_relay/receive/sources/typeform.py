"""Typeform webhooks (`form_response`): signed with `Typeform-Signature: sha256=<base64 HMAC-SHA256(raw body)>`.

Answers are keyed by `field.ref` (stable) and labelled with the question title from `definition.fields`.
Delivery id: `event_id` plus a body digest, because hand-edited or replayed deliveries reuse one event id
with different contents (fixtures/real/typeform) while real retries resend identical bytes.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from signup_relay.errors import UndecodableBodyError
from signup_relay.models import RawRequest
from signup_relay.receive.sources._common import (
    array,
    check_signature,
    decode_json,
    delivery_key,
    hmac_sha256,
    index_by,
    obj,
    parse_datetime,
    require_secret,
    scalar,
    text_of,
)
from signup_relay.receive.submission import (
    KIND_BOOLEAN,
    KIND_CHOICE,
    KIND_DATE,
    KIND_EMAIL,
    KIND_HIDDEN,
    KIND_NUMBER,
    KIND_PHONE,
    KIND_TEXT,
    KIND_URL,
    Answer,
    Submission,
    Value,
)

NAME = "typeform"
SIGNATURE_HEADER = "typeform-signature"
SIGNED = "sha256=<base64 HMAC-SHA256 of the raw body>"
KINDS = {
    "email": KIND_EMAIL,
    "phone_number": KIND_PHONE,
    "boolean": KIND_BOOLEAN,
    "date": KIND_DATE,
    "number": KIND_NUMBER,
    "url": KIND_URL,
    "file_url": KIND_URL,
    "text": KIND_TEXT,
    "choice": KIND_CHOICE,
    "choices": KIND_CHOICE,
}


def sign(body: bytes, secret: str) -> str:
    """The header value Typeform sends for `body`."""
    return "sha256=" + base64.b64encode(hmac_sha256(secret, body)).decode()


def verify(request: RawRequest, secret: str, now: datetime) -> None:
    require_secret(secret)
    check_signature(request, SIGNATURE_HEADER, sign(request.body, secret), signed=SIGNED)


def _answer_value(answer: dict[str, Any]) -> Value | None:
    kind = answer.get("type")
    raw = answer.get(kind) if isinstance(kind, str) else None
    if kind == "choice" and isinstance(raw, dict):
        return text_of(raw.get("label")) or text_of(raw.get("other")) or ""
    if kind == "choices" and isinstance(raw, dict):
        labels = array(raw.get("labels"))
        values = [t for t in (scalar(v) for v in [*labels, raw.get("other")]) if t]
        return tuple(values)
    if kind == "payment":
        return None
    return scalar(raw)


def parse(request: RawRequest) -> Submission:
    data = decode_json(request)
    response = data.get("form_response") if isinstance(data, dict) else None
    if not isinstance(response, dict):
        raise UndecodableBodyError("not a Typeform webhook: no form_response object")
    definition = obj(response.get("definition"))
    titles = index_by(definition.get("fields"), "id", "title")
    answers: list[Answer] = []
    for item in response.get("answers") or ():
        if not isinstance(item, dict):
            continue
        field = obj(item.get("field"))
        field_id = text_of(field.get("id"))
        key = text_of(field.get("ref")) or field_id
        value = _answer_value(item)
        if key is None or value is None:
            continue
        answer_type = item.get("type")
        answers.append(Answer(key=key, value=value, label=titles.get(field_id or ""), kind=KINDS.get(str(answer_type))))
    hidden = response.get("hidden")
    if isinstance(hidden, dict):
        for key, raw in hidden.items():
            text = scalar(raw)
            if text is not None:
                answers.append(Answer(key=str(key), value=text, kind=KIND_HIDDEN))
    return Submission(
        source=NAME,
        answers=tuple(answers),
        delivery_id=delivery_key(data.get("event_id") or response.get("token"), request.body),
        form_id=text_of(response.get("form_id")),
        form_name=text_of(definition.get("title")),
        submitted_at=parse_datetime(response.get("submitted_at")),
    )
