"""Formstack "WebHook" submit action: URL-encoded (default) or JSON.

Signed with `X-FS-Signature: sha256=<hex HMAC-SHA256(raw body)>` (the route secret is the webhook's "HMAC Key").
Compound fields arrive as "first = Ada\\nlast = Lovelace" in URL-encoded mode and as objects in JSON mode.
The `HandshakeKey` ("Shared Secret") is never kept. Delivery id: `UniqueID`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from signup_relay.models import RawRequest
from signup_relay.receive.sources._common import (
    answers_from_mapping,
    check_signature,
    decode_flat,
    hmac_sha256,
    require_secret,
    text_of,
)
from signup_relay.receive.submission import Submission

NAME = "formstack"
SIGNATURE_HEADER = "x-fs-signature"
SIGNED = "sha256=<hex HMAC-SHA256 of the raw body>"
ENVELOPE = ("FormID", "UniqueID", "HandshakeKey")


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac_sha256(secret, body).hex()


def verify(request: RawRequest, secret: str, now: datetime) -> None:
    require_secret(secret)
    check_signature(request, SIGNATURE_HEADER, sign(request.body, secret), signed=SIGNED, hexadecimal=True)


def _subfields(value: Any) -> Any:
    """'first = Ada\\nlast = Lovelace' -> {'first': 'Ada', 'last': 'Lovelace'}; other values unchanged."""
    if not isinstance(value, str) or " = " not in value:
        return value
    parts: dict[str, str] = {}
    for line in value.splitlines():
        name, sep, part = line.partition(" = ")
        if not sep or not name.strip():
            return value  # an answer that merely contains " = "
        parts[name.strip()] = part.strip()
    return parts


def parse(request: RawRequest) -> Submission:
    data = {key: _subfields(value) for key, value in decode_flat(request).items()}
    return Submission(
        source=NAME,
        answers=answers_from_mapping(data, skip=ENVELOPE),
        delivery_id=text_of(data.get("UniqueID")),
        form_id=text_of(data.get("FormID")),
    )
