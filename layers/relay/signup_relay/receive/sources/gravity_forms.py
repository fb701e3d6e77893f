"""Gravity Forms Webhooks Add-On: JSON (recommended) or form format, "Select Fields" (recommended) or "All Fields".

Unsigned: add a request header `X-Signup-Relay-Token` with the route token. "Select Fields" sends your own keys
(email, first_name...). "All Fields" sends the entry: numeric input ids ("2", "1.3"/"1.6" for name parts,
"3.1".."3.6" for address parts) plus entry metadata. Delivery id: `form_id` + entry `id` when present.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from signup_relay.models import RawRequest
from signup_relay.receive.sources._common import decode_flat, flatten, parse_datetime, text_of, verify_token
from signup_relay.receive.submission import (
    KIND_CITY,
    KIND_COUNTRY,
    KIND_EMAIL,
    KIND_FIRST_NAME,
    KIND_LAST_NAME,
    KIND_POSTAL_CODE,
    KIND_STATE,
    KIND_STREET,
    Answer,
    Submission,
)

NAME = "gravity_forms"
ENTRY_META = frozenset(
    {
        "id", "form_id", "post_id", "date_created", "date_updated", "is_starred", "is_read", "ip", "source_url",
        "user_agent", "currency", "payment_status", "payment_date", "payment_amount", "payment_method",
        "transaction_id", "is_fulfilled", "created_by", "transaction_type", "status", "source_id",
    }
)  # fmt: skip
INPUT_ID = re.compile(r"^(\d+)(?:\.(\d+))?$")
NAME_INPUTS = {"3": KIND_FIRST_NAME, "6": KIND_LAST_NAME}
ADDRESS_INPUTS = {"1": KIND_STREET, "3": KIND_CITY, "4": KIND_STATE, "5": KIND_POSTAL_CODE, "6": KIND_COUNTRY}
LOOKS_LIKE_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def verify(request: RawRequest, secret: str, now: datetime) -> None:
    verify_token(request, secret)


def _kinds(data: dict[str, Any]) -> dict[str, str]:
    """Hints for "All Fields" input ids: a field with a .1 input is an address, one with .3/.6 a name."""
    inputs: dict[str, set[str]] = {}
    for key in data:
        match = INPUT_ID.match(str(key))
        if match and match.group(2):
            inputs.setdefault(match.group(1), set()).add(match.group(2))
    kinds: dict[str, str] = {}
    for field, subs in inputs.items():
        # Checkbox and consent fields have .1, .2... inputs too: only these shapes are a name or an address.
        if "1" in subs and subs & {"3", "5"}:
            table = ADDRESS_INPUTS
        elif "1" not in subs and subs & {"3", "6"}:
            table = NAME_INPUTS
        else:
            table = {}
        for sub in subs:
            if sub in table:
                kinds[f"{field}.{sub}"] = table[sub]
    emails = [k for k, v in data.items() if INPUT_ID.match(str(k)) and isinstance(v, str) and LOOKS_LIKE_EMAIL.match(v)]
    if len(emails) == 1:  # All Fields mode has no labels: the one input holding an address is the email field
        kinds[emails[0]] = KIND_EMAIL
    return kinds


def parse(request: RawRequest) -> Submission:
    data = decode_flat(request)
    kinds = _kinds(data)
    answers = tuple(
        Answer(key=key, value=value, kind=kinds.get(key))
        for key, value in flatten({k: v for k, v in data.items() if k not in ENTRY_META})
    )
    entry_id, form_id = text_of(data.get("id")), text_of(data.get("form_id"))
    return Submission(
        source=NAME,
        answers=answers,
        delivery_id=f"{form_id}-{entry_id}" if entry_id and form_id else None,
        form_id=form_id,
        submitted_at=parse_datetime(data.get("date_created")),
        ip=text_of(data.get("ip")),
    )
