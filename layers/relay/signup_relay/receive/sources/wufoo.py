"""Wufoo webhooks: URL-encoded `Field<N>` values plus EntryId, DateCreated, HandshakeKey and, with
"Include Field and Form Structures", FieldStructure/FormStructure JSON that names and types the fields.

Unsigned: the route token is the webhook's Handshake Key, echoed in the body as `HandshakeKey` and compared
in constant time (the X-Signup-Relay-Token header or `?token=` also work). The key is never kept.
Delivery id: the form hash (or name) + `EntryId`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from signup_relay.errors import SignatureError, UndecodableBodyError
from signup_relay.models import RawRequest
from signup_relay.receive.sources._common import (
    FORM_TYPE,
    decode_fields,
    equal,
    header,
    loads_json,
    normalized,
    parse_datetime,
    require_secret,
    text_of,
    verify_token,
)
from signup_relay.receive.submission import (
    KIND_CITY,
    KIND_COUNTRY,
    KIND_DATE,
    KIND_EMAIL,
    KIND_FIRST_NAME,
    KIND_LAST_NAME,
    KIND_PHONE,
    KIND_POSTAL_CODE,
    KIND_STATE,
    KIND_STREET,
    KIND_URL,
    Answer,
    Submission,
)

NAME = "wufoo"
ENVELOPE = frozenset(
    {"EntryId", "DateCreated", "CreatedBy", "DateUpdated", "UpdatedBy", "FormId", "HandshakeKey", "IP",
     "FieldStructure", "FormStructure", "LastPage", "CompleteSubmission", "Status", "PurchaseTotal", "Currency",
     "TransactionId", "MerchantType"}
)  # fmt: skip
TYPE_KINDS = {"email": KIND_EMAIL, "phone": KIND_PHONE, "date": KIND_DATE, "url": KIND_URL}
SUBFIELD_KINDS = {
    "first": KIND_FIRST_NAME,
    "last": KIND_LAST_NAME,
    "streetaddress": KIND_STREET,
    "city": KIND_CITY,
    "stateprovinceregion": KIND_STATE,
    "postalzipcode": KIND_POSTAL_CODE,
    "country": KIND_COUNTRY,
}


def verify(request: RawRequest, secret: str, now: datetime) -> None:
    require_secret(secret)
    try:
        verify_token(request, secret)
        return
    except SignatureError:
        pass
    if request.content_type != FORM_TYPE:
        raise SignatureError("missing or wrong HandshakeKey")
    try:
        handshake = dict(decode_fields(request)).get("HandshakeKey")
    except UndecodableBodyError:
        raise SignatureError("missing or wrong HandshakeKey") from None
    if handshake is None or not equal(handshake, secret):
        raise SignatureError("missing or wrong HandshakeKey")


def _structure(text: str | None) -> dict[str, tuple[str, str | None]]:
    """FieldStructure -> {"Field3": ("Email", "email"), "Field1": ("First", first_name)...}."""
    if not text:
        return {}
    try:
        structure = loads_json(text, "FieldStructure")
    except UndecodableBodyError:
        return {}
    fields = structure.get("Fields") if isinstance(structure, dict) else None
    names: dict[str, tuple[str, str | None]] = {}
    for field in fields if isinstance(fields, list) else ():
        if not isinstance(field, dict):
            continue
        title = text_of(field.get("Title")) or ""
        kind = TYPE_KINDS.get(str(field.get("Type")))
        subfields = field.get("SubFields")
        if isinstance(subfields, list):
            for sub in subfields:
                if isinstance(sub, dict) and text_of(sub.get("ID")):
                    label = text_of(sub.get("Label")) or title
                    names[str(sub["ID"])] = (label, SUBFIELD_KINDS.get(normalized(label)))
        if text_of(field.get("ID")) and str(field["ID"]) not in names:  # a name's ID is also its first part's
            names[str(field["ID"])] = (title, kind)
    return names


def parse(request: RawRequest) -> Submission:
    data: dict[str, Any] = dict(decode_fields(request))
    names = _structure(data.get("FieldStructure"))
    form: dict[str, Any] = {}
    if data.get("FormStructure"):
        try:
            loaded = loads_json(data["FormStructure"], "FormStructure")
            form = loaded if isinstance(loaded, dict) else {}
        except UndecodableBodyError:
            form = {}
    answers = []
    for key, value in data.items():
        if key in ENVELOPE or key.endswith("-url"):
            continue
        label, kind = names.get(key, (key, None))
        answers.append(Answer(key=key, value=value, label=label, kind=kind))
    form_key = text_of(form.get("Hash")) or text_of(form.get("Url")) or text_of(form.get("Name"))
    entry_id = text_of(data.get("EntryId"))
    return Submission(
        source=NAME,
        answers=tuple(answers),
        delivery_id=f"{form_key or 'form'}-{entry_id}" if entry_id else None,
        form_id=text_of(form.get("Hash")) or text_of(data.get("FormId")),
        form_name=text_of(form.get("Name")),
        submitted_at=parse_datetime(data.get("DateCreated")),
        ip=text_of(data.get("IP")) or (header(request, "x-wufoo-ip") or None),
    )
