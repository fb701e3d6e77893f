"""Unbounce landing-page form webhooks: URL-encoded page fields plus the answers as a JSON string in `data.json`
(and again as XML in `data.xml`, ignored). Every value in data.json is an array, usually of one element.

Unsigned: put the route token in the webhook URL (`?token=...`). Page metadata inside data.json
(ip_address, page_uuid, variant, page_url, page_name, date_submitted, time_submitted) is not an answer;
ip_address is the visitor's IP. No delivery id (the body hash is used).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from signup_relay.errors import UndecodableBodyError
from signup_relay.models import RawRequest
from signup_relay.receive.sources._common import decode_fields, loads_json, text_of, to_value, verify_token
from signup_relay.receive.submission import Answer, Submission

NAME = "unbounce"
PAGE_METADATA = frozenset(
    {"ip_address", "page_uuid", "variant", "page_url", "page_name", "date_submitted", "time_submitted", "page_id"}
)


def verify(request: RawRequest, secret: str, now: datetime) -> None:
    verify_token(request, secret)


def _submitted_at(data: dict[str, Any]) -> datetime | None:
    day, time = text_of(to_value(data.get("date_submitted"))), text_of(to_value(data.get("time_submitted")))
    if not day or not time:
        return None
    try:  # "2017-11-15" + "11:45 AM UTC"
        return datetime.strptime(f"{day} {time.removesuffix(' UTC')}", "%Y-%m-%d %I:%M %p").replace(tzinfo=UTC)
    except ValueError:
        return None


def parse(request: RawRequest) -> Submission:
    page = dict(decode_fields(request))
    raw = page.get("data.json")
    if raw is None:
        raise UndecodableBodyError("not an Unbounce form post: no data.json field")
    data = loads_json(raw, "data.json")
    if not isinstance(data, dict):
        raise UndecodableBodyError("data.json is not a JSON object")
    answers = tuple(
        Answer(key=str(key), value=value, label=str(key))
        for key, raw_value in data.items()
        if key not in PAGE_METADATA and (value := to_value(raw_value)) is not None
    )
    return Submission(
        source=NAME,
        answers=answers,
        form_id=text_of(page.get("page_id")),
        form_name=text_of(page.get("page_name")),
        submitted_at=_submitted_at(data),
        ip=text_of(to_value(data.get("ip_address"))),
    )
