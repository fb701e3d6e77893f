"""Helpers for the source tests: events/ files as RawRequests, the example routes, the demo secrets."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from local.events.build import demo_secrets, event_body, load_event
from signup_relay.models import RawRequest, Signup
from signup_relay.receive.intake import receive_submission
from signup_relay.routes import Route, Routes, load_routes

ROOT = Path(__file__).resolve().parents[2]
REAL = ROOT / "tests" / "fixtures" / "real"
# The events/ samples of the senders that sign their deliveries, one per signing scheme.
SIGNED_SAMPLES = (
    "typeform_signup.json",
    "tally_signup.json",
    "webflow_signup.json",
    "formstack_signup.json",
    "framer_signup.json",
    "formspree_signup.json",
    "wpforms_signup.json",
    "hubspot_contact.json",
    "standard_webhooks_signup.json",
)


@cache
def example_routes() -> Routes:
    return load_routes(ROOT / "routes.yaml")


def request_from_event(event: dict[str, Any], *, body: bytes | None = None, **headers: str) -> RawRequest:
    """The RawRequest the receive handler builds from an API Gateway v2 event (headers may be overridden)."""
    return RawRequest(
        method=event["requestContext"]["http"]["method"],
        path=event["rawPath"],
        headers={**event["headers"], **{k.replace("_", "-"): v for k, v in headers.items()}},
        query=event.get("queryStringParameters") or {},
        raw_query=event.get("rawQueryString") or "",
        body=event_body(event) if body is None else body,
        source_ip=event["requestContext"]["http"]["sourceIp"],
    )


def sample(name: str) -> tuple[Route, RawRequest, str]:
    """Route, request (freshly signed) and route secret of an events/ file."""
    event = load_event(name, fresh=True)
    route = example_routes().get(event["pathParameters"]["route"])
    return route, request_from_event(event), demo_secrets()[route.name]


def now() -> datetime:
    return datetime.now(UTC)


def receive(name: str) -> Signup:
    route, request, secret = sample(name)
    return receive_submission(route, request, secret=secret, now=now())


def real_fixture(path: str, *, crlf: bool = False) -> bytes:
    data = (REAL / path).read_bytes()
    return data.replace(b"\n", b"\r\n") if crlf else data


def multipart_content_type(body: bytes) -> str:
    """A multipart body's content type, from its first boundary line."""
    return "multipart/form-data; boundary=" + body.split(b"\r\n", 1)[0][2:].decode()
