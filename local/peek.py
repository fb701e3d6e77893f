"""The local stack's look-ups for a person trying a form: `POST /_local/preview/{route}` (what a delivery would
become, queued nowhere) and `GET /_local/contacts?email=` (a contact as Constant Contact holds it).

Both run the product's own code: receive's verify -> parse -> map, and the V3 client's `status=all` lookup with
every subresource, against whichever Constant Contact the stack talks to (the embedded sandbox or CC_API_BASE_URL).
"""

from __future__ import annotations

from typing import Any

from signup_relay.models import RawRequest, to_data


def preview_delivery(route_name: str, request: RawRequest) -> tuple[int, dict[str, Any]]:
    """The contact a delivery to `route_name` would be queued as, and its consent; or the receive error it gets."""
    from signup_relay.clock import utc_now
    from signup_relay.config import get_settings
    from signup_relay.errors import ReceiveError, SignatureError, UnknownRouteError
    from signup_relay.receive.intake import fetch_webhook_secret, receive_submission
    from signup_relay.routes import get_routes

    try:
        route = get_routes().get(route_name)
        secret = fetch_webhook_secret(route.secret, max_age=get_settings().secret_max_age_seconds)
        signup = receive_submission(route, request, secret=secret, now=utc_now())
    except UnknownRouteError:
        error: ReceiveError = SignatureError("unknown route")
        return error.status, {**error.answer_body(), "reason": "no route of that name in the routes file"}
    except ReceiveError as refused:
        # A person is trying their own delivery here: the reason a sender is not told is shown too.
        return refused.status, {**refused.answer_body(), "reason": refused.message}
    hidden = {"options", "delivery_id", "source", "route", "account"}
    contact = {key: value for key, value in to_data(signup).items() if key not in hidden}
    return 200, {
        "route": route_name,
        "would_queue": True,
        "contact": {key: value for key, value in contact.items() if value not in (None, [], {}, ())},
        "consent": signup.consent.value,
        "consent_evidence": contact.get("consent_evidence"),
        "options": to_data(signup.options),
        "account": signup.account or get_settings().cc_secret_id,
    }


def stored_contacts(email: str) -> tuple[int, dict[str, Any]]:
    """Every contact Constant Contact holds for `email` (deleted and unsubscribed ones too), with subresources."""
    from signup_relay.emails import normalize_email
    from signup_relay.upsert.wiring import get_upserter

    if not email.strip():
        return 400, {"error": "missing_email", "detail": "give ?email=<address>"}
    contacts = get_upserter().client.find_contacts_by_email(normalize_email(email))
    return 200, {"email": normalize_email(email), "contacts": contacts}
