"""Google Forms through an Apps Script `onFormSubmit` trigger posting JSON (UrlFetchApp).

Unsigned: the script sends `X-Signup-Relay-Token: <token>` (UrlFetchApp `headers`). Three shapes are read:
a flat {question title: answer} object; {namedValues: {title: [values]}} (the spreadsheet-bound trigger);
and the Typeform-like envelope {event_id, form_response{form_id, email, submitted_at, answers[{response,
field{id,title,type}}]}}. `form_response.email` is the respondent's verified address when the form collects
emails. Delivery id: `event_id` (the response id).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from signup_relay.errors import UndecodableBodyError
from signup_relay.models import RawRequest
from signup_relay.receive.sources._common import (
    answers_from_mapping,
    array,
    decode_json,
    obj,
    parse_datetime,
    text_of,
    to_value,
    verify_token,
)
from signup_relay.receive.submission import KIND_CHOICE, KIND_DATE, KIND_EMAIL, Answer, Submission

NAME = "google_forms"
KINDS = {"CHECKBOX": KIND_CHOICE, "MULTIPLE_CHOICE": KIND_CHOICE, "LIST": KIND_CHOICE, "DATE": KIND_DATE}


def verify(request: RawRequest, secret: str, now: datetime) -> None:
    verify_token(request, secret)


def _envelope_answers(response: dict[str, Any]) -> list[Answer]:
    answers: list[Answer] = []
    email = text_of(response.get("email"))
    if email:
        answers.append(Answer(key="respondent_email", value=email, label="Email", kind=KIND_EMAIL))
    for item in array(response.get("answers")):
        if not isinstance(item, dict):
            continue
        field = obj(item.get("field"))
        title = text_of(field.get("title"))
        key = title or text_of(field.get("id"))
        value = to_value(item.get("response"))
        if key and value is not None:
            answers.append(Answer(key=key, value=value, label=title, kind=KINDS.get(str(field.get("type")))))
    return answers


def parse(request: RawRequest) -> Submission:
    data = decode_json(request)
    if not isinstance(data, dict):
        raise UndecodableBodyError("body is not a JSON object")
    response = data.get("form_response")
    if isinstance(response, dict):
        return Submission(
            source=NAME,
            answers=tuple(_envelope_answers(response)),
            delivery_id=text_of(data.get("event_id")),
            form_id=text_of(response.get("form_id")),
            form_name=text_of(response.get("form_title")),
            submitted_at=parse_datetime(response.get("submitted_at")),
        )
    fields = obj(data.get("namedValues")) or data
    return Submission(
        source=NAME,
        answers=answers_from_mapping(fields, skip=("namedValues", "token")),
        delivery_id=text_of(data.get("event_id")) or text_of(data.get("response_id")),
        form_id=text_of(data.get("form_id")),
        form_name=text_of(data.get("form_title")),
        submitted_at=parse_datetime(data.get("submitted_at") or data.get("Timestamp")),
    )
