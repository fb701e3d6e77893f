"""Formspree webhooks: JSON with the submitted fields (optionally wrapped as {form, submission}).

Signed with `Formspree-Signature: t=<unix>,v1=<hex HMAC-SHA256("{t}.{raw body}")>`; rejected outside 5 minutes.
Keys starting with `_` are Formspree's own (`_date`, `_subject`...) and are not answers.
"""

from __future__ import annotations

from datetime import datetime

from signup_relay.errors import SignatureError, UndecodableBodyError
from signup_relay.models import RawRequest
from signup_relay.sources._common import (
    answers_from_mapping,
    check_window,
    decode_json,
    equal,
    hmac_sha256,
    obj,
    parse_datetime,
    parse_pairs,
    parse_timestamp,
    require_header,
    require_secret,
    text_of,
)
from signup_relay.submission import Submission

NAME = "formspree"
SIGNATURE_HEADER = "formspree-signature"


def sign(body: bytes, secret: str, timestamp: str) -> str:
    return f"t={timestamp},v1=" + hmac_sha256(secret, timestamp.encode() + b"." + body).hex()


def verify(request: RawRequest, secret: str, now: datetime) -> None:
    require_secret(secret)
    pairs = parse_pairs(require_header(request, SIGNATURE_HEADER))
    timestamp = (pairs.get("t") or [""])[0]
    if not timestamp:
        raise SignatureError("Formspree-Signature has no timestamp")
    expected = sign(request.body, secret, timestamp).rsplit("v1=", 1)[1]
    matched = False
    for candidate in pairs.get("v1", []):
        matched |= equal(candidate.lower(), expected)
    if not matched:
        raise SignatureError("Formspree-Signature does not match")
    check_window(parse_timestamp(timestamp), now)


def parse(request: RawRequest) -> Submission:
    data = decode_json(request)
    if not isinstance(data, dict):
        raise UndecodableBodyError("not a Formspree submission: body is not an object")
    fields = obj(data.get("submission")) or data
    answers = answers_from_mapping({k: v for k, v in fields.items() if not str(k).startswith("_")}, skip=("form",))
    return Submission(
        source=NAME,
        answers=answers,
        delivery_id=text_of(fields.get("_id")) or text_of(data.get("id")),
        form_id=text_of(data.get("form")) if isinstance(data.get("form"), str) else None,
        submitted_at=parse_datetime(fields.get("_date")),
    )
