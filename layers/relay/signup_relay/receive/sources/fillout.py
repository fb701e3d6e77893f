"""Fillout webhooks: JSON {formId, formName, submission{submissionId, submissionTime, questions[], urlParameters[]}}
(a bare submission object is read too).

Unsigned: add the header `X-Signup-Relay-Token` (or `?token=` in the URL). Questions are keyed by `id` with
`name` as label and typed (`EmailInput`, `PhoneNumber`...); URL parameters are hidden answers keyed by name.
Delivery id: `submissionId`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from signup_relay.errors import UndecodableBodyError
from signup_relay.models import RawRequest
from signup_relay.receive.sources._common import (
    decode_json,
    flatten,
    obj,
    parse_datetime,
    text_of,
    to_value,
    verify_token,
)
from signup_relay.receive.submission import (
    KIND_CHOICE,
    KIND_DATE,
    KIND_EMAIL,
    KIND_HIDDEN,
    KIND_PHONE,
    KIND_URL,
    Answer,
    Submission,
)

NAME = "fillout"
KINDS = {
    "EmailInput": KIND_EMAIL,
    "PhoneNumber": KIND_PHONE,
    "DatePicker": KIND_DATE,
    "URLInput": KIND_URL,
    "MultipleChoice": KIND_CHOICE,
    "Checkboxes": KIND_CHOICE,
    "MultiSelect": KIND_CHOICE,
    "Dropdown": KIND_CHOICE,
}


def verify(request: RawRequest, secret: str, now: datetime) -> None:
    verify_token(request, secret)


def _items(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def parse(request: RawRequest) -> Submission:
    data = decode_json(request)
    if not isinstance(data, dict):
        raise UndecodableBodyError("not a Fillout submission: body is not a JSON object")
    submission = obj(data.get("submission")) or data
    answers: list[Answer] = []
    for question in _items(submission.get("questions")):
        key = text_of(question.get("id")) or text_of(question.get("name"))
        label = text_of(question.get("name"))
        raw = question.get("value")
        if key is None:
            continue
        if isinstance(raw, dict):  # address and similar compound answers
            answers.extend(Answer(key=k, value=v, label=k.rsplit(".", 1)[1]) for k, v in flatten(raw, prefix=f"{key}."))
            continue
        value = to_value(raw)
        if value is not None:
            answers.append(Answer(key=key, value=value, label=label, kind=KINDS.get(str(question.get("type")))))
    for parameter in _items(submission.get("urlParameters")):
        name = text_of(parameter.get("name")) or text_of(parameter.get("id"))
        value = to_value(parameter.get("value"))
        if name and value is not None and name != "token":
            answers.append(Answer(key=name, value=value, label=name, kind=KIND_HIDDEN))
    return Submission(
        source=NAME,
        answers=tuple(answers),
        delivery_id=text_of(submission.get("submissionId")),
        form_id=text_of(data.get("formId")),
        form_name=text_of(data.get("formName")),
        submitted_at=parse_datetime(submission.get("submissionTime")),
    )
