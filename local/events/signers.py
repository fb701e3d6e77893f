"""The authentication headers each signing form builder sends: one function per scheme, `now` in unix seconds.

Written from the senders' documented schemes, not from signup_relay's verifiers, so that each checks the other.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

Event = dict[str, Any]
Signer = Callable[[Event, bytes, str, int], dict[str, str]]  # (event, body, secret, now) -> headers

# Schemes whose signature carries a timestamp: their events go stale and are re-signed when loaded.
WINDOWED = frozenset({"webflow", "formspree", "wpforms", "hubspot", "standard_webhooks"})


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


def sign_typeform(event: Event, body: bytes, secret: str, now: int) -> dict[str, str]:
    return {"typeform-signature": "sha256=" + base64.b64encode(_hmac(secret, body)).decode()}


def sign_tally(event: Event, body: bytes, secret: str, now: int) -> dict[str, str]:
    return {"tally-signature": base64.b64encode(_hmac(secret, body)).decode()}


def sign_webflow(event: Event, body: bytes, secret: str, now: int) -> dict[str, str]:
    ms = str(now * 1000)
    return {"x-webflow-timestamp": ms, "x-webflow-signature": _hmac(secret, f"{ms}:".encode() + body).hex()}


def sign_formstack(event: Event, body: bytes, secret: str, now: int) -> dict[str, str]:
    return {"x-fs-signature": "sha256=" + _hmac(secret, body).hex()}


def sign_framer(event: Event, body: bytes, secret: str, now: int) -> dict[str, str]:
    submission_id = event["headers"]["framer-webhook-submission-id"]
    return {"framer-signature": "sha256=" + _hmac(secret, body + submission_id.encode()).hex()}


def sign_formspree(event: Event, body: bytes, secret: str, now: int) -> dict[str, str]:
    return {"formspree-signature": f"t={now},v1=" + _hmac(secret, f"{now}.".encode() + body).hex()}


def sign_wpforms(event: Event, body: bytes, secret: str, now: int) -> dict[str, str]:
    url_encoded = event["headers"]["content-type"].startswith("application/x-www-form-urlencoded")
    signed = _php_json(body) if url_encoded else body
    return {"x-wpforms-webhook-signature": f"t={now},v=" + _hmac(secret, f"{now}.".encode() + signed).hex()}


def sign_hubspot(event: Event, body: bytes, secret: str, now: int) -> dict[str, str]:
    ms = str(now * 1000)
    uri = f"https://{event['headers']['host']}{event['rawPath']}"
    if event.get("rawQueryString"):
        uri += "?" + event["rawQueryString"]
    message = event["requestContext"]["http"]["method"].encode() + uri.encode() + body + ms.encode()
    signature = base64.b64encode(_hmac(secret, message)).decode()
    return {"x-hubspot-request-timestamp": ms, "x-hubspot-signature-v3": signature}


def sign_standard_webhooks(event: Event, body: bytes, secret: str, now: int) -> dict[str, str]:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    msg_id = event["headers"]["webhook-id"]
    signature = base64.b64encode(_hmac(key, f"{msg_id}.{now}.".encode() + body)).decode()
    return {"webhook-timestamp": str(now), "webhook-signature": f"v1,{signature}"}


SIGNERS: dict[str, Signer] = {
    "typeform": sign_typeform,
    "tally": sign_tally,
    "webflow": sign_webflow,
    "formstack": sign_formstack,
    "framer": sign_framer,
    "formspree": sign_formspree,
    "wpforms": sign_wpforms,
    "hubspot": sign_hubspot,
    "standard_webhooks": sign_standard_webhooks,
}


def sign_headers(source: str, event: Event, body: bytes, secret: str, now: int) -> dict[str, str]:
    """The authentication headers `source` sends for `body` (empty for token-authenticated sources)."""
    signer = SIGNERS.get(source)
    return signer(event, body, secret, now) if signer else {}
