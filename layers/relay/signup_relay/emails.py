"""Email addresses, declared once: how a form's value is normalised and validated, and the per-person key.

The FIFO group key (receive) and the lookup key (upsert) both come from `normalize_email`, so they agree.
"""

from __future__ import annotations

import hashlib
import re

_VALID = re.compile(
    r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+([a-z]{2,63}|xn--[a-z0-9-]{2,59})$"
)


def normalize_email(raw: str) -> str:
    """Strip and lower-case (Constant Contact stores addresses lower-cased); drop `<...>` and a `mailto:` prefix."""
    email = raw.strip().strip("<>").strip()
    if email[:7].lower() == "mailto:":
        email = email[7:]
    return email.lower()


def is_valid_email(email: str) -> bool:
    """A normalised address Constant Contact accepts (local part at most 64 characters)."""
    local, _, _domain = email.partition("@")
    return bool(_VALID.match(email)) and len(local) <= 64


def contact_key(email: str) -> str:
    """FIFO message group id: one group per person, so their sign-ups are applied in order."""
    return hashlib.sha256(normalize_email(email).encode("utf-8")).hexdigest()
