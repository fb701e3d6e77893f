"""The one Logger, Tracer and Metrics of signup-relay, and the email masking every log line goes through.

`tracer` is created on first access: Powertools' Tracer imports the X-Ray SDK (~0.2-0.4 s), which the receive
function skips to keep its cold start lean (Lambda's active tracing still records its invocations).
"""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer
    from aws_lambda_powertools.logging.types import LogRecord

    tracer: Tracer

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


def __getattr__(name: str) -> Any:
    # `from signup_relay.observability import tracer` works, and only then loads the X-Ray SDK.
    if name == "tracer":
        return get_tracer()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
