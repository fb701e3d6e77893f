"""Cognito Forms "Post JSON data to a website": JSON keyed by the fields' internal names.

Unsigned: put the route token in the endpoint URL (`?token=...`). Compound fields are objects (Name ->
First/Last/FirstAndLast, Address -> Line1/City/State/PostalCode/Country). `Form` and `Entry` are metadata.
Delivery id: the entry `Id` plus a body digest, because the submit and update endpoints post the same entry id.
"""

from __future__ import annotations

from datetime import datetime

from signup_relay.errors import UndecodableBodyError
from signup_relay.models import RawRequest
from signup_relay.receive.sources._common import (
    answers_from_mapping,
    decode_json,
    delivery_key,
    obj,
    parse_datetime,
    text_of,
    verify_token,
)
from signup_relay.receive.submission import Submission

NAME = "cognito"
METADATA = ("Form", "Entry", "Id", "$type", "$version", "$etag")


def verify(request: RawRequest, secret: str, now: datetime) -> None:
    verify_token(request, secret)


def parse(request: RawRequest) -> Submission:
    data = decode_json(request)
    if not isinstance(data, dict):
        raise UndecodableBodyError("not a Cognito Forms entry: body is not a JSON object")
    form = obj(data.get("Form"))
    entry = obj(data.get("Entry"))
    return Submission(
        source=NAME,
        answers=answers_from_mapping(data, skip=METADATA),
        delivery_id=delivery_key(data.get("Id"), request.body),
        form_id=text_of(form.get("Id")),
        form_name=text_of(form.get("Name")) or text_of(form.get("InternalName")),
        submitted_at=parse_datetime(entry.get("DateSubmitted")),
    )
