"""The raw bodies the scenarios post, built from the payloads/ files (values invented, structures the senders').

A body is a function of the demo secrets, because some senders echo their token in the body (Jotform's webhook
URL, Wufoo's Handshake Key). The bytes are the contract, not the data: events/ must regenerate byte-identical, so
JSON bodies keep json.dumps' default separators and form bodies urlencode's quoting.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from local.events.paths import PAYLOADS_DIR, REAL_FIXTURES

Body = Callable[[dict[str, str]], bytes]  # secrets -> raw body

HOST = "abc123defg.execute-api.us-east-1.amazonaws.com"  # the API Gateway domain every sample is addressed to
JOTFORM_BOUNDARY = "------------------------Jf7kQ2xW9mR4tB1z"


def payload(name: str) -> Any:
    """The data in payloads/<name>.json."""
    return json.loads((PAYLOADS_DIR / f"{name}.json").read_text())


def pairs(data: list[list[str]]) -> list[tuple[str, str]]:
    """[name, value] lists from a payload file as the tuples urlencode takes."""
    return [(name, value) for name, value in data]


def json_body(data: Any) -> Body:
    """`data` as a JSON body."""
    return lambda _secrets: json.dumps(data).encode()


def json_payload(name: str, change: Callable[[Any], Any] | None = None) -> Body:
    """payloads/<name>.json as a JSON body, passed through `change` first when given."""

    def build(_secrets: dict[str, str]) -> bytes:
        data = payload(name)
        return json.dumps(change(data) if change else data).encode()

    return build


def form_payload(name: str) -> Body:
    """payloads/<name>.json, a list of [name, value] pairs, as a URL-encoded body."""
    return lambda _secrets: urlencode(pairs(payload(name))).encode()


def real_capture(path: str, *, crlf: bool = False) -> Body:
    """A body captured from a real sender (tests/fixtures/real/), with CRLF line ends when `crlf`."""

    def build(_secrets: dict[str, str]) -> bytes:
        data = (REAL_FIXTURES / path).read_bytes()
        return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n") if crlf else data

    return build


def multipart(boundary: str, parts: list[tuple[str, str]]) -> bytes:
    lines: list[str] = []
    for name, value in parts:
        lines += [f"--{boundary}", f'Content-Disposition: form-data; name="{name}"', "", value]
    lines.append(f"--{boundary}--")
    return ("\r\n".join(lines) + "\r\n").encode()


def typeform_without_email(response: dict[str, Any]) -> dict[str, Any]:
    """The Typeform response as another delivery without its email answer."""
    response["event_id"] = "01JDQ80A4B7C2D5E8F1G3H6J9K"
    answers = response["form_response"]["answers"]
    response["form_response"]["answers"] = [answer for answer in answers if answer["type"] != "email"]
    return response


def tally_without_email(response: dict[str, Any]) -> dict[str, Any]:
    """The Tally response as another delivery with its email field left blank."""
    response["eventId"] = "0b6f3c21-9d8e-4a7b-b5c4-3e2f1a0d9c88"
    response["data"]["fields"][0]["value"] = ""
    return response


def jotform_body(secrets: dict[str, str]) -> bytes:
    """Jotform's multipart POST: its webhook URL (token included) and the submission as a rawRequest JSON string."""
    submission = payload("jotform_submission")
    built = {
        "{webhook_url}": f"https://{HOST}/hooks/jotform-registration?token={secrets['jotform-registration']}",
        "{raw_request}": json.dumps(submission["rawRequest"]).replace("/", "\\/"),
    }
    parts = [(name, built.get(value, value)) for name, value in pairs(submission["parts"])]
    return multipart(JOTFORM_BOUNDARY, parts)


def wufoo_body(secrets: dict[str, str]) -> bytes:
    """Wufoo's URL-encoded entry: the fields, the Handshake Key, and the field and form structures as JSON strings."""
    entry = payload("wufoo_entry")
    fields = [
        *pairs(entry["fields"]),
        ("HandshakeKey", secrets["wufoo-signup"]),
        ("FieldStructure", json.dumps(entry["FieldStructure"])),
        ("FormStructure", json.dumps(entry["FormStructure"])),
    ]
    return urlencode(fields).encode()


def unbounce_body(_secrets: dict[str, str]) -> bytes:
    """Unbounce's URL-encoded post: the page fields, then data.json, a JSON string of one-element arrays."""
    form = payload("unbounce_form")
    return urlencode([*pairs(form["fields"]), ("data.json", json.dumps(form["data.json"]))]).encode()
