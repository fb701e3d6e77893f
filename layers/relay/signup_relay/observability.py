"""The one Logger, Tracer and Metrics of signup-relay, and the email masking every log line goes through.

Powertools' Tracer imports the X-Ray SDK (~0.15-0.4 s of a cold start), so it is only created when the operator
asks for detailed tracing (`DETAILED_TRACING`, the template's DetailedTracing parameter): `traced_handler` and
`traced` then add its subsegments. Lambda's active tracing records every invocation either way.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any, cast

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer
    from aws_lambda_powertools.logging.types import LogRecord


SERVICE = "signup-relay"
NAMESPACE = "SignupRelay"

# Deliberately loose: anything that looks like an address is masked, including ones inside messages, in any
# script (an internationalised local part or domain is personal data too).
_NOT_IN_ADDRESS = r"\s@<>()\[\],;:\"'=&?/"
_EMAIL = re.compile(rf"[^{_NOT_IN_ADDRESS}]+@(?:[^{_NOT_IN_ADDRESS}.]+\.)+[^{_NOT_IN_ADDRESS}.\d]{{2,}}")


def mask_email(email: str | None) -> str:
    """`jane@example.com` -> `j***@example.com`: enough to correlate, not enough to identify."""
    if not email:
        return ""
    local, sep, domain = email.strip().rpartition("@")
    if not sep or not local:
        return "***"
    return f"{local[0]}***@{domain.lower()}"


def mask_emails_in(text: str) -> str:
    """Every email-looking substring of `text` masked."""
    return _EMAIL.sub(lambda match: mask_email(match.group(0)), text)


class EmailMaskingFormatter(LambdaPowertoolsFormatter):
    """A safety net: whatever a log call carries (message, extra keys, exception text), emails leave masked."""

    def serialize(self, log: LogRecord) -> str:
        return mask_emails_in(super().serialize(log))


logger = Logger(service=SERVICE, logger_formatter=EmailMaskingFormatter())
metrics = Metrics(service=SERVICE, namespace=NAMESPACE)


@cache
def get_tracer() -> Tracer:
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE)


def traced_handler[F: Callable[..., Any]](handler: F) -> F:
    """A Lambda handler, with the Tracer's capture_lambda_handler when detailed tracing is on (decided on the
    first call, from settings)."""

    @functools.wraps(handler)
    def run(event: Any, context: Any) -> Any:
        return _with_tracer(handler, "handler")(event, context)

    return cast(F, run)


def traced[F: Callable[..., Any]](function: F) -> F:
    """A function, with the Tracer's capture_method when detailed tracing is on."""

    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> Any:
        return _with_tracer(function, "method")(*args, **kwargs)

    return cast(F, run)


@cache
def _with_tracer(function: Callable[..., Any], kind: str) -> Callable[..., Any]:
    from signup_relay.config import get_settings

    if not get_settings().detailed_tracing:
        return function
    tracer = get_tracer()
    if kind == "handler":
        return tracer.capture_lambda_handler(capture_response=False)(function)
    return tracer.capture_method(capture_response=False)(function)
