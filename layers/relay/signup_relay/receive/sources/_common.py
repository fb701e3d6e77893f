"""Helpers shared by the source modules: body decoding, signature and token checks, answer flattening."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from multipart import MultipartError, MultipartSegment, PushMultipartParser, parse_options_header

from signup_relay.clock import parse_datetime as parse_datetime  # the sources' one time parser
from signup_relay.errors import SignatureError, UndecodableBodyError, UnsupportedMediaTypeError, quoted
from signup_relay.models import RawRequest
from signup_relay.receive.submission import (
    KIND_CITY,
    KIND_COUNTRY,
    KIND_FIRST_NAME,
    KIND_FULL_NAME,
    KIND_LAST_NAME,
    KIND_POSTAL_CODE,
    KIND_STATE,
    KIND_STREET,
    Answer,
    Value,
)

TOKEN_HEADER = "x-signup-relay-token"
TOKEN_QUERY_PARAMETER = "token"
DEFAULT_TOLERANCE_SECONDS = 300
MAX_FORM_FIELDS = 1000
MAX_NESTING = 4
# A multipart part's header line (Content-Disposition with its name and file name, Content-Type) is a few hundred
# bytes from every sender; a longer one is refused, as are more than 8 header lines in a part (RFC 7578 uses 3).
MAX_PART_HEADER_BYTES = 2048

JSON_TYPES = frozenset({"application/json", "text/json", "text/plain"})  # CF7 and Apps Script may say text/plain
FORM_TYPE = "application/x-www-form-urlencoded"
MULTIPART_TYPE = "multipart/form-data"

# --- authentication ----------------------------------------------------------------------------


def _as_bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogateescape")


def equal(a: str | bytes, b: str | bytes) -> bool:
    """Constant-time comparison of two strings or byte strings."""
    return hmac.compare_digest(_as_bytes(a), _as_bytes(b))


def hmac_sha256(secret: str | bytes, message: bytes) -> bytes:
    return hmac.new(_as_bytes(secret), message, hashlib.sha256).digest()


def require_secret(secret: str) -> None:
    """A route without a secret authenticates nothing: refuse rather than accept everyone."""
    if not secret:
        raise SignatureError("no secret is configured for this route")


def header(request: RawRequest, name: str) -> str | None:
    value = request.headers.get(name)
    if value is None:
        value = next((v for k, v in request.headers.items() if k.lower() == name), None)
    return value


def require_header(request: RawRequest, name: str) -> str:
    value = header(request, name)
    if not value:
        raise SignatureError(f"missing {name} header")
    return value.strip()


def matches_any(candidates: Iterable[str | bytes], expected: str | bytes) -> bool:
    """Constant-time check that one of `candidates` equals `expected`.

    Every candidate is compared (no early exit), so the timing does not tell which one matched.
    """
    matched = False
    for candidate in candidates:
        matched |= equal(candidate, expected)
    return matched


def check_signature(request: RawRequest, name: str, expected: str, *, signed: str, hexadecimal: bool = False) -> None:
    """Raise SignatureError unless the `name` header equals `expected` (hex digests are accepted in either case).

    `signed` describes what the sender signs; the error names it (never the expected value), for the log and the
    local preview: the sender's own answer stays the same for every failure.
    """
    received = require_header(request, name)
    if not equal(received.lower() if hexadecimal else received, expected):
        raise SignatureError(mismatch(name, signed))


def mismatch(name: str, signed: str) -> str:
    """The reason a signature header did not match: which header, and what it should sign."""
    return f"{name} does not match: it should be {signed}, keyed with the route's secret"


def check_timestamped_signature(
    request: RawRequest, name: str, version: str, expected: Callable[[str], str], *, signed: str
) -> str:
    """A Stripe-like `t=<unix>,<version>=<hex>` header (several signatures during rotation); its timestamp.

    `expected(timestamp)` is the hex digest the sender computes; it is called only once a timestamp is present.
    """
    pairs = parse_pairs(require_header(request, name))
    timestamp = (pairs.get("t") or [""])[0]
    if not timestamp:
        raise SignatureError(f"{name} has no timestamp")
    if not matches_any((candidate.lower() for candidate in pairs.get(version, [])), expected(timestamp)):
        raise SignatureError(mismatch(name, signed))
    return timestamp


def verify_token(request: RawRequest, secret: str) -> None:
    """Unsigned senders: the route token in the X-Signup-Relay-Token header, a Bearer header or ?token=."""
    require_secret(secret)
    authorization = header(request, "authorization") or ""
    bearer = authorization[7:].strip() if authorization[:7].lower() == "bearer " else None
    candidates = (header(request, TOKEN_HEADER), request.query.get(TOKEN_QUERY_PARAMETER), bearer)
    if not matches_any((c.strip() for c in candidates if c is not None), secret):
        raise SignatureError("missing or wrong route token")


def check_window(timestamp_seconds: float, now: datetime, tolerance: int = DEFAULT_TOLERANCE_SECONDS) -> None:
    """Reject a signed timestamp more than `tolerance` seconds away from `now` (replay guard)."""
    if abs(now.timestamp() - timestamp_seconds) > tolerance:
        raise SignatureError(f"timestamp outside the {tolerance // 60}-minute window")


def parse_timestamp(raw: str, *, milliseconds: bool = False) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise SignatureError("timestamp is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise SignatureError("timestamp is not a number")
    return value / 1000 if milliseconds else value


def parse_pairs(raw: str) -> dict[str, list[str]]:
    """`t=123,v1=abc,v1=def` -> {"t": ["123"], "v1": ["abc", "def"]} (Stripe-like signature headers)."""
    pairs: dict[str, list[str]] = {}
    for item in raw.split(","):
        name, sep, value = item.strip().partition("=")
        if sep:
            pairs.setdefault(name.strip(), []).append(value.strip())
    return pairs


def b64decode(raw: str) -> bytes:
    try:
        return base64.b64decode(raw.strip() + "=" * (-len(raw.strip()) % 4), validate=True)
    except (binascii.Error, ValueError):
        return b""


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


# --- body decoding -----------------------------------------------------------------------------


def _content_type(request: RawRequest) -> str:
    return request.content_type


def require_content_type(request: RawRequest, allowed: Iterable[str]) -> str:
    content_type = _content_type(request)
    allowed = tuple(allowed)
    if content_type not in allowed and not (content_type.endswith("+json") and "application/json" in allowed):
        raise UnsupportedMediaTypeError(
            f"content type {quoted(content_type) if content_type else '(none)'} is not accepted here",
            accepted=sorted(allowed),
        )
    return content_type


def decode_text(body: bytes) -> str:
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UndecodableBodyError("body is not valid UTF-8") from None


def decode_json(request: RawRequest) -> Any:
    require_content_type(request, JSON_TYPES)
    return loads_json(decode_text(request.body), "body")


SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")
LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # json.loads joins each escaped pair into one character


def loads_json(text: str, what: str) -> Any:
    try:
        data = json.loads(text)
        # A \uD800-\uDFFF escape without its pair (JavaScript's substring can split an emoji) decodes to text that
        # UTF-8 cannot hold, so the queue message could not be written: each becomes U+FFFD, as a browser shows it.
        return _without_lone_surrogates(data) if SURROGATE_ESCAPE.search(text) else data
    except (ValueError, RecursionError):
        raise UndecodableBodyError(f"{what} is not valid JSON") from None


def _without_lone_surrogates(data: Any) -> Any:
    if isinstance(data, str):
        return LONE_SURROGATE.sub("\ufffd", data)
    if isinstance(data, list):
        return [_without_lone_surrogates(item) for item in data]
    if isinstance(data, dict):
        return {_without_lone_surrogates(key): _without_lone_surrogates(value) for key, value in data.items()}
    return data


def decode_form(body: bytes) -> list[tuple[str, str]]:
    text = decode_text(body)
    try:
        return parse_qsl(
            text, keep_blank_values=True, encoding="utf-8", errors="strict", max_num_fields=MAX_FORM_FIELDS
        )
    except (ValueError, UnicodeDecodeError):
        raise UndecodableBodyError("body is not a valid URL-encoded form") from None


def decode_multipart(request: RawRequest) -> list[tuple[str, str]]:
    """Fields of a multipart/form-data body; file parts keep only their file name.

    Strict RFC 7578 (https://www.rfc-editor.org/rfc/rfc7578): CRLF line breaks, a form-data Content-Disposition
    on every part (so a nested multipart part is refused), no Content-Transfer-Encoding decoding (senders must
    not use it, §4.7), at most MAX_FORM_FIELDS parts.
    """
    _, options = parse_options_header(header(request, "content-type") or "")
    boundary = options.get("boundary")
    if not boundary:
        raise UndecodableBodyError("multipart body without a boundary")
    fields: list[tuple[str, str]] = []
    try:
        parser = PushMultipartParser(
            boundary,
            content_length=len(request.body),
            max_header_size=MAX_PART_HEADER_BYTES,
            max_segment_count=MAX_FORM_FIELDS,
            strict=True,
        )
        with parser:
            segment: MultipartSegment | None = None
            chunks: list[bytes] = []
            for event in parser.parse(request.body):
                if isinstance(event, MultipartSegment):
                    segment, chunks = event, []
                elif event is not None:
                    chunks.append(event)
                elif segment is not None:
                    fields.append((segment.name, segment.filename or _part_text(b"".join(chunks), segment.charset)))
        return fields
    except MultipartError as error:
        raise UndecodableBodyError(f"body is not valid multipart/form-data: {error.args[0]}") from None


def _part_text(raw: bytes, charset: str | None) -> str:
    try:
        return raw.decode(charset or "utf-8")
    except (LookupError, UnicodeDecodeError):
        raise UndecodableBodyError("a multipart part is not text in its declared charset") from None


def decode_fields(request: RawRequest) -> list[tuple[str, str]]:
    """Flat name/value pairs from a form-encoded or multipart body."""
    content_type = require_content_type(request, (FORM_TYPE, MULTIPART_TYPE))
    if content_type == MULTIPART_TYPE:
        return decode_multipart(request)
    return decode_form(request.body)


def decode_flat(request: RawRequest) -> dict[str, Any]:
    """JSON object, form-encoded or multipart body as one mapping (repeated form names become lists)."""
    content_type = require_content_type(request, (*JSON_TYPES, FORM_TYPE, MULTIPART_TYPE))
    if content_type in JSON_TYPES:
        data = loads_json(decode_text(request.body), "body")
        if not isinstance(data, dict):
            raise UndecodableBodyError("JSON body is not an object")
        return data
    return group_pairs(decode_fields(request))


def group_pairs(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    grouped: dict[str, Any] = {}
    for name, value in pairs:
        name = name.removesuffix("[]")
        if name in grouped:
            previous = grouped[name]
            grouped[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            grouped[name] = value
    return grouped


# --- values ------------------------------------------------------------------------------------


def scalar(value: Any) -> str | None:
    """A JSON scalar as text; None for containers."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    if isinstance(value, str):
        return value
    return None


def to_value(value: Any) -> Value | None:
    """A JSON value as an answer value: scalars as text, lists of scalars as tuples; None if not flat."""
    text = scalar(value)
    if text is not None:
        return text
    if isinstance(value, list):
        items = [scalar(item) for item in value]
        if all(item is not None for item in items):
            flat = tuple(item for item in items if item)
            return flat[0] if len(flat) == 1 else flat
    return None


def flatten(data: Mapping[str, Any], *, prefix: str = "", depth: int = 0) -> Iterator[tuple[str, Value]]:
    """Nested JSON objects as dotted keys ("name.first"); lists of scalars as tuples; other lists skipped."""
    for key, value in data.items():
        name = f"{prefix}{key}"
        flat = to_value(value)
        if flat is not None:
            yield name, flat
        elif isinstance(value, dict) and depth < MAX_NESTING:
            yield from flatten(value, prefix=f"{name}.", depth=depth + 1)


# Sub-field names of compound answers (a name or address object) -> field-type hint.
SUBFIELD_KINDS = {
    "first": KIND_FIRST_NAME,
    "firstname": KIND_FIRST_NAME,
    "given": KIND_FIRST_NAME,
    "last": KIND_LAST_NAME,
    "lastname": KIND_LAST_NAME,
    "family": KIND_LAST_NAME,
    "surname": KIND_LAST_NAME,
    "firstandlast": KIND_FULL_NAME,
    "full": None,
    "address": KIND_STREET,
    "addrline1": KIND_STREET,
    "line1": KIND_STREET,
    "street": KIND_STREET,
    "streetaddress": KIND_STREET,
    "address1": KIND_STREET,
    "city": KIND_CITY,
    "state": KIND_STATE,
    "province": KIND_STATE,
    "region": KIND_STATE,
    "postal": KIND_POSTAL_CODE,
    "postalcode": KIND_POSTAL_CODE,
    "zip": KIND_POSTAL_CODE,
    "zipcode": KIND_POSTAL_CODE,
    "country": KIND_COUNTRY,
}


def normalized(text: str) -> str:
    return "".join(c for c in text.lower() if c.isascii() and c.isalnum())


def subfield_kind(key: str) -> str | None:
    """'Name.First' -> first_name: the hint for a sub-answer of a compound field (dotted keys only)."""
    if "." not in key:
        return None
    return SUBFIELD_KINDS.get(normalized(key.rsplit(".", 1)[1]))


def answers_from_mapping(
    data: Mapping[str, Any], *, skip: Iterable[str] = (), labels: Mapping[str, str] | None = None
) -> tuple[Answer, ...]:
    """Answers of a flat or nested mapping (nested objects become dotted keys with sub-field hints)."""
    skipped = set(skip)
    labels = labels or {}
    return tuple(
        Answer(key=key, value=value, label=labels.get(key), kind=subfield_kind(key))
        for key, value in flatten(data)
        if key.split(".", 1)[0] not in skipped
    )


def delivery_key(identifier: Any, body: bytes) -> str | None:
    """`<id>:<body digest>` for senders whose ids repeat across different contents (edits, updates)."""
    text = text_of(identifier)
    return f"{text}:{body_digest(body)[:16]}" if text else None


def index_by(items: Any, key: str, value: str) -> dict[str, str | None]:
    """{text of item[key]: text of item[value]} over the objects of a JSON array (e.g. option id -> label).

    Objects whose key is not a scalar are skipped: a list or an object where an id belongs cannot be a dict key.
    """
    index: dict[str, str | None] = {}
    for item in array(items):
        if isinstance(item, dict) and (name := text_of(item.get(key))) is not None:
            index[name] = text_of(item.get(value))
    return index


def obj(value: Any) -> dict[str, Any]:
    """`value` when it is a JSON object, else an empty one (payload shapes are never trusted)."""
    return value if isinstance(value, dict) else {}


def array(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def text_of(value: Any) -> str | None:
    text = scalar(value)
    return text if text else None
