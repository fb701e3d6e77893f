"""Jotform webhooks: multipart/form-data whose `rawRequest` part is a JSON string holding the answers.

Unsigned: authenticate with the route token (header, or `?token=` in the webhook URL). Jotform echoes the
whole webhook URL, token included, in its `webhookURL` part: that part, `pretty` and `username` are never read,
and mapping drops any value containing the route secret. Answers are the `q<N>_<name>` keys of rawRequest;
compound answers (name, address, date, phone) are objects. Delivery id: `submissionID`.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from signup_relay.errors import UndecodableBodyError
from signup_relay.models import RawRequest
from signup_relay.receive.sources._common import (
    JSON_TYPES,
    decode_fields,
    decode_json,
    flatten,
    loads_json,
    normalized,
    require_content_type,
    subfield_kind,
    text_of,
    verify_token,
)
from signup_relay.receive.submission import KIND_DATE, KIND_EMAIL, KIND_PHONE, Answer, Submission, Value

NAME = "jotform"
ANSWER_KEY = re.compile(r"^q\d+_(.+)$")
EMAIL_NAME = re.compile(r"^(e-?mail|youremail|emailaddress)\d*$")
PHONE_NAME = re.compile(r"^(phone|phonenumber|mobile|mobilenumber|yourphone)\d*$")
# A date part as sent (ASCII digits, at most 4): int() of a longer one could raise, since Python refuses to
# convert digit strings over 4,300 characters (https://docs.python.org/3/library/stdtypes.html#int-max-str-digits).
DATE_PART = re.compile(r"[0-9]{1,4}")


def verify(request: RawRequest, secret: str, now: datetime) -> None:
    verify_token(request, secret)


def _envelope(request: RawRequest) -> dict[str, Any]:
    content_type = require_content_type(
        request, (*JSON_TYPES, "multipart/form-data", "application/x-www-form-urlencoded")
    )
    if content_type in JSON_TYPES:  # a delivery re-encoded as a JSON object (request bins, tests)
        data = decode_json(request)
        if not isinstance(data, dict):
            raise UndecodableBodyError("not a Jotform submission: body is not an object")
        return data
    return dict(decode_fields(request))


def _compound(key: str, label: str, value: dict[str, Any]) -> list[Answer]:
    parts = {normalized(str(k)): v for k, v in value.items()}
    if {"month", "day"} <= parts.keys():  # date: {month, day, year}
        month, day, year = (text_of(parts.get(p)) for p in ("month", "day", "year"))
        if month and day:
            numeric = year and all(DATE_PART.fullmatch(part) for part in (year, month, day))
            text = f"{year}-{int(month):02d}-{int(day):02d}" if numeric else f"{month}/{day}"
            return [Answer(key=key, value=text, label=label, kind=KIND_DATE)]
        return []
    if "full" in parts or {"area", "phone"} <= parts.keys():  # phone: {full} or {area, phone}
        full = text_of(parts.get("full")) or " ".join(
            t for t in (text_of(parts.get("area")), text_of(parts.get("phone"))) if t
        )
        return [Answer(key=key, value=full, label=label, kind=KIND_PHONE)] if full else []
    return [
        Answer(key=sub_key, value=sub_value, label=sub_key.rsplit(".", 1)[1], kind=subfield_kind(sub_key))
        for sub_key, sub_value in flatten(value, prefix=f"{key}.")
    ]


def _answers(raw: dict[str, Any]) -> tuple[Answer, ...]:
    answers: list[Answer] = []
    for key, value in raw.items():
        match = ANSWER_KEY.match(str(key))
        if not match:
            continue  # slug, jsExecutionTracker, event_id, temp_upload, path...: Jotform's bookkeeping
        label = match.group(1)
        if isinstance(value, dict):
            answers.extend(_compound(str(key), label, value))
            continue
        flat: Value | None = None
        if isinstance(value, list):
            flat = tuple(t for t in (text_of(v) for v in value) if t)
        elif not isinstance(value, dict):
            flat = text_of(value) or ""
        if flat is None:
            continue
        name = normalized(label)
        kind = KIND_EMAIL if EMAIL_NAME.match(name) else KIND_PHONE if PHONE_NAME.match(name) else None
        answers.append(Answer(key=str(key), value=flat, label=label, kind=kind))
    return tuple(answers)


def parse(request: RawRequest) -> Submission:
    envelope = _envelope(request)
    raw_request = envelope.get("rawRequest")
    if not isinstance(raw_request, str) or not raw_request.strip():
        raise UndecodableBodyError("not a Jotform submission: no rawRequest part")
    raw = loads_json(raw_request, "rawRequest")
    if not isinstance(raw, dict):
        raise UndecodableBodyError("rawRequest is not a JSON object")
    return Submission(
        source=NAME,
        answers=_answers(raw),
        delivery_id=text_of(envelope.get("submissionID")),
        form_id=text_of(envelope.get("formID")),
        form_name=text_of(envelope.get("formTitle")),
        ip=text_of(envelope.get("ip")),
    )
