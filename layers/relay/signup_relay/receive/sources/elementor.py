"""Elementor Pro forms, "Webhook" action: URL-encoded, sent from the visitor's submit (5 s timeout, no retry).

Unsigned: put the route token in the webhook URL (`?token=...`); Elementor cannot add headers without code.
Default mode keys the answers by field label plus metadata rows ("Date", "Remote IP"...), `form_id` and
`form_name`. "Advanced Data" mode sends `form[id]`, `fields[<custom id>][value|type|title]` and `meta[...]`:
answers are then keyed by the field's custom id and typed. Anything but a 200 fails the visitor's submit.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from signup_relay.models import RawRequest
from signup_relay.receive.sources._common import decode_fields, group_pairs, text_of, to_value, verify_token
from signup_relay.receive.submission import (
    KIND_BOOLEAN,
    KIND_DATE,
    KIND_EMAIL,
    KIND_PHONE,
    KIND_URL,
    Answer,
    Submission,
)

NAME = "elementor"
# Metadata rows of the default mode (Elementor's "Actions After Submit" meta data), never answers.
META_ROWS = frozenset({"date", "time", "page url", "user agent", "remote ip", "credit", "powered by"})
KINDS = {"email": KIND_EMAIL, "tel": KIND_PHONE, "date": KIND_DATE, "url": KIND_URL, "acceptance": KIND_BOOLEAN}
BRACKETS = re.compile(r"^(\w+)\[([^\]]*)\](?:\[([^\]]*)\])?$")


def verify(request: RawRequest, secret: str, now: datetime) -> None:
    verify_token(request, secret)


def _advanced(pairs: list[tuple[str, str]]) -> dict[str, dict[str, dict[str, str]]]:
    """`fields[email][value]=x` -> {"fields": {"email": {"value": "x"}}}."""
    tree: dict[str, dict[str, dict[str, str]]] = {}
    for name, value in pairs:
        match = BRACKETS.match(name)
        if match:
            group, item, attribute = match.groups()
            tree.setdefault(group, {}).setdefault(item, {})[attribute or ""] = value
    return tree


def parse(request: RawRequest) -> Submission:
    pairs = decode_fields(request)
    tree = _advanced(pairs)
    if "fields" in tree:
        answers = []
        for custom_id, field in tree["fields"].items():
            value = field.get("value", field.get("raw_value", ""))
            kind = KINDS.get(field.get("type", ""))
            answers.append(Answer(key=custom_id, value=value, label=field.get("title") or None, kind=kind))
        form = tree.get("form", {})
        meta = tree.get("meta", {})
        return Submission(
            source=NAME,
            answers=tuple(answers),
            form_id=text_of(form.get("id", {}).get("")),
            form_name=text_of(form.get("name", {}).get("")),
            ip=text_of(meta.get("remote_ip", {}).get("value")),
        )
    data: dict[str, Any] = group_pairs(pairs)
    answers = [
        Answer(key=key, value=flat, label=key)
        for key, raw in data.items()
        if key.lower() not in META_ROWS and key not in ("form_id", "form_name") and (flat := to_value(raw)) is not None
    ]
    return Submission(
        source=NAME,
        answers=tuple(answers),
        form_id=text_of(data.get("form_id")),
        form_name=text_of(data.get("form_name")),
        ip=text_of(data.get("Remote IP")),
    )
