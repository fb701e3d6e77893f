"""Formspree webhooks: JSON with the submitted fields (optionally wrapped as {form, submission}).

Signed with `Formspree-Signature: t=<unix>,v1=<hex HMAC-SHA256("{t}.{raw body}")>`; rejected outside 5 minutes.
Keys starting with `_` are Formspree's own (`_date`, `_subject`...) and are not answers.
"""

from __future__ import annotations

from datetime import datetime

from signup_relay.errors import UndecodableBodyError
from signup_relay.models import RawRequest
from signup_relay.receive.sources._common import (
    answers_from_mapping,
    check_timestamped_signature,
    check_window,
    decode_json,
    hmac_sha256,
    obj,
    parse_datetime,
    parse_timestamp,
    require_secret,
    text_of,
)
from signup_relay.receive.submission import Submission

NAME = "formspree"
SIGNATURE_HEADER = "formspree-signature"
SIGNED = "t=<unix seconds>,v1=<hex HMAC-SHA256 of '<t>.<raw body>'>"


def sign(body: bytes, secret: str, timestamp: str) -> str:
    """The `v1` value Formspree sends for `body` signed at `timestamp`."""
    return hmac_sha256(secret, timestamp.encode() + b"." + body).hex()


def verify(request: RawRequest, secret: str, now: datetime) -> None:
    require_secret(secret)
    timestamp = check_timestamped_signature(
        request, SIGNATURE_HEADER, "v1", lambda timestamp: sign(request.body, secret, timestamp), signed=SIGNED
    )
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
