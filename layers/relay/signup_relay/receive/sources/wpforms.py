"""WPForms Webhooks addon: URL-encoded (default) or JSON, a flat map of the parameter names you set.

Signed with `X-WPForms-Webhook-Signature: t=<unix>,v=<hex HMAC-SHA256("{t}.{json}")>`. The signed JSON is
WordPress' `wp_json_encode` of the parameters, which in URL-encoded mode is NOT the bytes on the wire: we
rebuild it from the form in sending order (PHP escapes "/" and non-ASCII). JSON mode avoids the rebuild and
is the recommended setting. WPForms sends from WP-Cron, which can run late on quiet sites, so the window is
15 minutes rather than 5. Multi-value fields arrive joined with "||".
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from signup_relay.errors import SignatureError, UndecodableBodyError
from signup_relay.models import RawRequest
from signup_relay.receive.sources._common import (
    FORM_TYPE,
    JSON_TYPES,
    answers_from_mapping,
    check_timestamped_signature,
    check_window,
    decode_form,
    decode_json,
    hmac_sha256,
    parse_timestamp,
    require_content_type,
    require_secret,
)
from signup_relay.receive.submission import Submission

NAME = "wpforms"
SIGNATURE_HEADER = "x-wpforms-webhook-signature"
SIGNED = "t=<unix seconds>,v=<hex HMAC-SHA256 of '<t>.<the JSON body; a URL-encoded body is rebuilt as WPForms' JSON>'>"
TOLERANCE_SECONDS = 900


def php_json(data: Any) -> bytes:
    """What PHP's json_encode (wp_json_encode) makes of `data`: compact, `\\/`, `\\uXXXX`."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/").encode()


def _php_params(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """The PHP array a URL-encoded body decodes to (`a[]=x&a[]=y` -> a list), in order."""
    params: dict[str, Any] = {}
    for name, value in pairs:
        if name.endswith("[]"):
            existing = params.setdefault(name[:-2], [])
            if isinstance(existing, list):
                existing.append(value)
        else:
            params[name] = value
    return params


def signed_json(request: RawRequest) -> bytes:
    """The bytes WPForms signed: the raw body in JSON mode, the rebuilt JSON in URL-encoded mode."""
    if request.content_type == FORM_TYPE:
        return php_json(_php_params(decode_form(request.body)))
    return request.body


def sign(signed: bytes, secret: str, timestamp: str) -> str:
    """The `v` value WPForms sends for the signed JSON at `timestamp`."""
    return hmac_sha256(secret, timestamp.encode() + b"." + signed).hex()


def verify(request: RawRequest, secret: str, now: datetime) -> None:
    require_secret(secret)
    try:
        timestamp = check_timestamped_signature(
            request,
            SIGNATURE_HEADER,
            "v",
            lambda timestamp: sign(signed_json(request), secret, timestamp),
            signed=SIGNED,
        )
    except UndecodableBodyError:
        raise SignatureError("cannot rebuild the signed JSON from an undecodable form body") from None
    check_window(parse_timestamp(timestamp), now, TOLERANCE_SECONDS)


def parse(request: RawRequest) -> Submission:
    content_type = require_content_type(request, (*JSON_TYPES, FORM_TYPE))
    data = _php_params(decode_form(request.body)) if content_type == FORM_TYPE else decode_json(request)
    if not isinstance(data, dict):
        raise UndecodableBodyError("not a WPForms webhook: body is not an object")
    # Date-time fields arrive as {value, unix}: keep the value.
    flat = {k: v.get("value") if isinstance(v, dict) and "value" in v else v for k, v in data.items()}
    return Submission(source=NAME, answers=answers_from_mapping(flat))
