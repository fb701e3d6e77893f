"""The one Logger, Tracer and Metrics of signup-relay, and the email masking every log line goes through."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

if TYPE_CHECKING:
    from aws_lambda_powertools.logging.types import LogRecord

SERVICE = "signup-relay"
NAMESPACE = "SignupRelay"

# Deliberately loose: anything that looks like an address is masked, including ones inside messages.
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-']+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")


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
tracer = Tracer(service=SERVICE)
metrics = Metrics(service=SERVICE, namespace=NAMESPACE)
