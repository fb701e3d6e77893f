"""`make dev`'s console: one readable line per log record, and no metric blobs.

The deployed functions keep Powertools' structured JSON (CloudWatch Logs Insights and `make recent` read it); the
local stack swaps in this formatter, a Powertools formatter like the deployed one, so the same records, with the
same email masking, print as one line each: `12:01:02.345  INFO     UpsertFunction        sign-up upserted
route=generic  outcome=created  email=a***@example.com  contact_id=...`. POWERTOOLS_DEV is not used: it also
turns on the Event Handler's debug mode, which puts tracebacks in 500 bodies. The EMF metric blobs (one JSON
line per invocation, printed to stdout) are left out: each outcome is already on its log line.
LOCAL_LOG_FORMAT=json keeps the deployed JSON lines and the blobs.
"""

from __future__ import annotations

import contextlib
import contextvars
import io
import os
import sys
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from signup_relay.observability import EmailMaskingFormatter, logger, mask_emails_in

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger
    from aws_lambda_powertools.logging.types import LogRecord

FORMAT_ENV = "LOCAL_LOG_FORMAT"
# The keys an operator reads first, in this order; others are left out of the console line.
KEYS = (
    "route",
    "outcome",
    "status",
    "email",
    "error_class",
    "reason",
    "contact_id",
    "attempts",
    "retry_in_seconds",
    "path",
    "queued_id",
)


# The function a local invocation runs, per thread. Not the Logger's function_name: Powertools keeps the Lambda
# context's keys on the one shared formatter, and the local stack runs receive and upsert in parallel threads.
_function: contextvars.ContextVar[str] = contextvars.ContextVar("local_function", default="")


@contextlib.contextmanager
def invoking(function: str) -> Iterator[None]:
    """Lines logged in this block (this thread) name `function`."""
    token = _function.set(function)
    try:
        yield
    finally:
        _function.reset(token)


class ConsoleFormatter(EmailMaskingFormatter):
    """`<time> <LEVEL> <function> <message> key=value ...`, then the exception's text, emails masked."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(datefmt="%H:%M:%S.%F", **kwargs)

    def serialize(self, log: LogRecord) -> str:
        record: dict[str, Any] = dict(log)
        where = _function.get() or record.get("location") or ""
        parts = [str(record.get("timestamp", "")), f"{record.get('level', ''):<7}", f"{where:<20}"]
        parts.append(str(record.get("message", "")))
        parts += [f"{key}={_compact(record[key])}" for key in KEYS if record.get(key) not in (None, "")]
        line = "  ".join(parts)
        if record.get("exception"):
            line += "\n" + str(record["exception"])
        # Every line leaves through the same masking as the deployed JSON (EmailMaskingFormatter).
        return mask_emails_in(line)


def _compact(value: Any) -> str:
    text = str(value)
    return repr(text) if " " in text else text


class WithoutMetricBlobs(io.TextIOBase):
    """A text stream that passes every line through except CloudWatch EMF metric blobs (`{"_aws": ...}`).

    Hand-written because POWERTOOLS_METRICS_DISABLED does not cover the ColdStart metric, which Powertools prints
    through its own single_metric; lines are assembled per thread, as print() writes the text and the newline apart.
    """

    def __init__(self, stream: io.TextIOBase | Any) -> None:
        self._stream = stream
        self._pending = threading.local()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        pending = getattr(self._pending, "text", "") + text
        *lines, rest = pending.split("\n")
        self._pending.text = rest
        kept = [line for line in lines if not line.startswith('{"_aws":')]
        if kept:
            self._stream.write("".join(line + "\n" for line in kept))
        return len(text)

    def flush(self) -> None:
        if not getattr(self._stream, "closed", False):  # also called when this wrapper is collected
            self._stream.flush()


def install(target: Logger = logger) -> bool:
    """Readable console lines for `target` (the service's one Logger) and no metric blobs on stdout, unless
    LOCAL_LOG_FORMAT=json. Returns whether the console format is on."""
    if os.environ.get(FORMAT_ENV, "").strip().lower() == "json":
        return False
    target.registered_handler.setFormatter(ConsoleFormatter())
    if not isinstance(sys.stdout, WithoutMetricBlobs):
        sys.stdout = WithoutMetricBlobs(sys.stdout)
    return True
