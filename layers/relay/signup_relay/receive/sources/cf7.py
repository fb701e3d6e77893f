"""Contact Form 7 with the "CF7 to Webhook" plugin (cf7-to-zapier): JSON keyed by the CF7 tag names.

Unsigned: add the header `X-Signup-Relay-Token: <token>` in the plugin's custom headers (or `?token=` in the
URL). Default labels match CF7's usual tags (`your-name`, `your-email`, `your-phone`); special mail tags
(`_remote_ip`, `_date`, `_url`...) are metadata, not answers. Checkbox values are arrays. No delivery id.
"""

from __future__ import annotations

from datetime import datetime

from signup_relay.errors import UndecodableBodyError
from signup_relay.models import RawRequest
from signup_relay.receive.sources._common import answers_from_mapping, decode_json, text_of, verify_token
from signup_relay.receive.submission import Submission

NAME = "cf7"


def verify(request: RawRequest, secret: str, now: datetime) -> None:
    verify_token(request, secret)


def parse(request: RawRequest) -> Submission:
    data = decode_json(request)
    if not isinstance(data, dict):
        raise UndecodableBodyError("not a CF7 webhook: body is not a JSON object")
    return Submission(
        source=NAME,
        answers=answers_from_mapping({k: v for k, v in data.items() if not str(k).startswith("_")}),
        ip=text_of(data.get("_remote_ip")),
        form_name=text_of(data.get("_post_title")),
    )
