"""Build, load and write the events/ files: API Gateway HTTP API (payload v2) events, signed with the demo secrets.

Time-windowed schemes (signers.WINDOWED) go stale: the demo and tests call `load_event(name, fresh=True)`, which
re-signs such an event at the current time (a stale-timestamp event stays stale, a wrong-secret event stays
wrongly signed).
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any
from urllib.parse import urlencode

from local.events.bodies import HOST
from local.events.paths import DEMO_SECRETS_FILE, EVENTS_DIR, EXPECTED_FILE, SEED_FILE
from local.events.scenarios import BY_FILE, SCENARIOS, Scenario
from local.events.seed import SANDBOX_SEED
from local.events.signers import SIGNERS, WINDOWED, sign_headers

WRONG_SECRET = "not-the-route-secret-0000000000000000"
WRONG_WHSEC = "whsec_" + base64.b64encode(b"not-the-route-secret-000000000").decode()
STALE_SECONDS = 3600
GENERATED_AT = 1_764_149_400  # 2025-11-26T09:30:00Z: fixed, so regenerating gives identical files


def demo_secrets() -> dict[str, str]:
    """Route name -> webhook secret of the demo routes (the single place they are defined)."""
    values = json.loads(DEMO_SECRETS_FILE.read_text())
    return {key: value for key, value in values.items() if not key.startswith("_")}


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
    if scenario.source not in SIGNERS:
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
