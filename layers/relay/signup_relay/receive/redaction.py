"""What receive keeps of a delivery it cannot use, with no secret left in it (docs/architecture.md §5).

`redact_kept_body` is the one function every kept body goes through: it cuts the route secret out in each
encoding a sender may echo it in, and replaces the values of secret-named fields (api_key, token, password,
signature...) in JSON, form and multipart bodies, in JSON documents and URLs inside their values (Jotform echoes
its webhook URL, a third party's api_key included), and wherever else the same value appears.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus, unquote_plus

REDACTED = "[redacted]"
# Names whose values authenticate someone: never logged, never kept in the DLQ.
SECRET_NAME = re.compile(
    r"authorization|cookie|token|secret|signature|password|passwd|api[-_]?key|hmac|handshake", re.IGNORECASE
)
# A secret-named field's value is also cut wherever else it appears, in every encoding, once it is this long;
# a shorter one ("1", "true") would cut unrelated text, so it is replaced only where it was found.
MIN_ECHOED_LENGTH = 8
MAX_ECHOED_VALUES = 20  # each costs ~30 passes over the body; real senders echo one or two
MAX_DEPTH = 32  # JSON nested in a JSON string in a form field...: deeper than any sender, shallow for the stack
JSON_TYPES = ("application/json", "text/json", "text/plain")
# `name=value` in a URL or a query string; the value ends where the next parameter, fragment or blank starts.
QUERY_PAIR = re.compile(r"(?P<lead>^|[?&;])(?P<name>[^=&?;#\s\"']+)=(?P<value>[^&;#\s\"'<>]*)")
PERCENT_ESCAPE = re.compile(r"%[0-9A-F]{2}")
BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)
PART_NAME = re.compile(rb'\bname="([^"]*)"|\bname=([^;\s]+)', re.IGNORECASE)


def redact_kept_body(body: bytes, content_type: str | None, secret: str) -> bytes:
    """`body` as the DLQ may keep it: no copy of `secret`, and no value of a secret-named field.

    `content_type` is the request's full header (a multipart body's boundary is read from it).
    """
    body = cut(body, secret_forms(secret))
    body, found = _redact_fields(body, content_type or "")
    echoed = [value for value in dict.fromkeys(found) if len(value) >= MIN_ECHOED_LENGTH and value != REDACTED]
    return cut(body, {form for value in echoed[:MAX_ECHOED_VALUES] for form in secret_forms(value)})


def redact_mapping(values: Mapping[str, str], secret: str = "") -> dict[str, str]:
    """Values of secret-looking names, and values holding the route secret in any encoding, as [redacted]."""
    forms = secret_forms(secret)
    return {
        name: REDACTED if SECRET_NAME.search(name) or any(form in value for form in forms) else value
        for name, value in values.items()
    }


def secret_forms(secret: str) -> set[str]:
    """Every text a copy of `secret` may take in a body: as is, JSON-escaped (once or twice, with PHP's `\\/`),
    URL-encoded (either case of hex), base64 (standard or URL-safe, with or without padding)."""
    if not secret:
        return set()
    texts = {secret}
    for _ in range(2):  # a JSON string inside a JSON string (Jotform's rawRequest re-encoded as JSON)
        texts |= {escaped for text in texts for escaped in _json_escapes(text)}
    forms = set(texts)
    for text in texts:
        for encoded in (quote(text, safe=""), quote(text), quote_plus(text)):
            forms |= {encoded, PERCENT_ESCAPE.sub(lambda m: m.group(0).lower(), encoded)}
    raw = secret.encode()
    for encoded in (base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()):
        forms |= {encoded, encoded.rstrip("=")}
    return {form for form in forms if form}


def cut(data: bytes, forms: Iterable[str]) -> bytes:
    """`data` with every occurrence of each of `forms` replaced by [redacted], longest first."""
    for form in sorted(set(forms), key=len, reverse=True):
        data = data.replace(form.encode("utf-8", "surrogatepass"), REDACTED.encode())
    return data


def _json_escapes(text: str) -> set[str]:
    ascii_escaped = json.dumps(text)[1:-1]
    unicode_kept = json.dumps(text, ensure_ascii=False)[1:-1]
    return {ascii_escaped, unicode_kept, ascii_escaped.replace("/", "\\/"), unicode_kept.replace("/", "\\/")}


def _redact_fields(body: bytes, content_type: str) -> tuple[bytes, list[str]]:
    """The body with secret-named fields' values replaced, and those values."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type in JSON_TYPES or media_type.endswith("+json"):
        try:
            text, found = _redact_text(body.decode("utf-8-sig"), 0)
        except UnicodeDecodeError:
            return body, []  # unreadable: no fields to find; the route secret is cut all the same
        return (_utf8(text) if found else body), found
    if media_type == "application/x-www-form-urlencoded":
        return _redact_form(body)
    if media_type == "multipart/form-data" and (boundary := BOUNDARY.search(content_type)):
        return _redact_multipart(body, boundary.group(1).encode())
    return body, []


def _utf8(text: str) -> bytes:
    # A JSON document may hold lone surrogates (from \ud800 escapes): written back as the same escapes.
    return text.encode("utf-8", "backslashreplace")


def _redact_form(body: bytes) -> tuple[bytes, list[str]]:
    pieces, found = body.split(b"&"), []
    for index, piece in enumerate(pieces):
        name, sep, value = piece.partition(b"=")
        try:
            name_text, text = unquote_plus(name.decode("utf-8")), unquote_plus(value.decode("utf-8"))
        except UnicodeDecodeError:
            continue
        if sep and SECRET_NAME.search(name_text):
            found.append(text)
            pieces[index] = name + b"=" + quote_plus(REDACTED).encode()
        elif sep:
            redacted, inner = _redact_text(text, 0)
            if inner:
                found += inner
                pieces[index] = name + b"=" + quote_plus(redacted, errors="backslashreplace").encode()
    return b"&".join(pieces), found


def _redact_multipart(body: bytes, boundary: bytes) -> tuple[bytes, list[str]]:
    # Hand-written, not the multipart parser: the kept body must stay byte for byte (but the secrets) and is often
    # one the parser refused.
    segments, found = body.split(b"--" + boundary), []
    for index, segment in enumerate(segments[1:], start=1):
        head, blank, value = segment.partition(b"\r\n\r\n")
        if not blank:
            head, blank, value = segment.partition(b"\n\n")
        match = PART_NAME.search(head)
        if not blank or match is None:
            continue
        content = value.removesuffix(b"\n").removesuffix(b"\r")
        ending = value[len(content) :]
        text = content.decode("utf-8", "replace")
        name = match.group(1) if match.group(1) is not None else match.group(2)
        if SECRET_NAME.search(name.decode("utf-8", "replace")):
            found.append(text)
            segments[index] = head + blank + REDACTED.encode() + ending
            continue
        redacted, inner = _redact_text(text, 0)
        if inner:
            found += inner
            segments[index] = head + blank + _utf8(redacted) + ending
    return (b"--" + boundary).join(segments), found


def _redact_text(text: str, depth: int) -> tuple[str, list[str]]:
    """A text value with its secrets replaced: a JSON document's secret-named fields, or a URL's or query
    string's secret-named parameters; and the values replaced."""
    if depth > MAX_DEPTH:
        return text, []
    if text.lstrip()[:1] in ("{", "["):
        try:
            document = json.loads(text)
        except (ValueError, RecursionError):
            document = None
        if isinstance(document, dict | list):
            redacted, found = _redact_json(document, depth + 1)
            if not found:
                return text, []
            try:
                return json.dumps(redacted, ensure_ascii=False), found
            except (ValueError, RecursionError):
                return text, found  # the values are still cut from the body as echoes
    found = []

    def replace(pair: re.Match[str]) -> str:
        if not SECRET_NAME.search(unquote_plus(pair["name"])):
            return pair.group(0)
        found.extend({pair["value"], unquote_plus(pair["value"])})
        return f"{pair['lead']}{pair['name']}={REDACTED}"

    return (QUERY_PAIR.sub(replace, text) if "=" in text else text), found


def _redact_json(value: Any, depth: int) -> tuple[Any, list[str]]:
    if depth > MAX_DEPTH:
        return value, []
    if isinstance(value, dict):
        redacted, found = {}, []
        for key, item in value.items():
            if SECRET_NAME.search(str(key)) and item not in (None, "", [], {}):
                redacted[key] = REDACTED
                found += _leaves(item, depth)
            else:
                redacted[key], inner = _redact_json(item, depth + 1)
                found += inner
        return redacted, found
    if isinstance(value, list):
        pairs = [_redact_json(item, depth + 1) for item in value]
        return [item for item, _ in pairs], [text for _, inner in pairs for text in inner]
    if isinstance(value, str):
        return _redact_text(value, depth + 1)
    return value, []


def _leaves(value: Any, depth: int) -> list[str]:
    """The texts of a JSON value's scalars (a secret-named field may hold a number, a list, an object)."""
    if depth > MAX_DEPTH:
        return []
    if isinstance(value, dict):
        return [text for item in value.values() for text in _leaves(item, depth + 1)]
    if isinstance(value, list):
        return [text for item in value for text in _leaves(item, depth + 1)]
    if value is None or isinstance(value, bool):
        return []
    return [value if isinstance(value, str) else json.dumps(value)]
