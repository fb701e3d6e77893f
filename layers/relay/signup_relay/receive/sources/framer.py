"""Framer forms, "Send To -> Webhook": flat JSON keyed by the inputs' names.

Signed with `Framer-Signature: sha256=<hex HMAC-SHA256(raw body || submission id)>` where the submission id is
the `Framer-Webhook-Submission-Id` header, which is also the delivery id (Framer retries up to 5 times).
"""

from __future__ import annotations

from datetime import datetime

from signup_relay.errors import UndecodableBodyError
from signup_relay.models import RawRequest
from signup_relay.receive.sources._common import (
    answers_from_mapping,
    check_signature,
    decode_json,
    header,
    hmac_sha256,
    require_header,
    require_secret,
)
from signup_relay.receive.submission import Submission

NAME = "framer"
SIGNATURE_HEADER = "framer-signature"
SUBMISSION_ID_HEADER = "framer-webhook-submission-id"
SIGNED = f"sha256=<hex HMAC-SHA256 of the raw body followed by the {SUBMISSION_ID_HEADER} header>"


def sign(body: bytes, secret: str, submission_id: str) -> str:
    return "sha256=" + hmac_sha256(secret, body + submission_id.encode()).hex()


def verify(request: RawRequest, secret: str, now: datetime) -> None:
    require_secret(secret)
    submission_id = require_header(request, SUBMISSION_ID_HEADER)
    expected = sign(request.body, secret, submission_id)
    check_signature(request, SIGNATURE_HEADER, expected, signed=SIGNED, hexadecimal=True)


def parse(request: RawRequest) -> Submission:
    data = decode_json(request)
    if not isinstance(data, dict):
        raise UndecodableBodyError("not a Framer form submission: body is not an object")
    return Submission(
        source=NAME,
        answers=answers_from_mapping(data),
        delivery_id=(header(request, SUBMISSION_ID_HEADER) or "").strip() or None,
    )
