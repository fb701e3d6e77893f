"""Email addresses, declared once: the one form of an address, its validation, and the per-person key.

The FIFO group key (receive) and the lookup key (upsert) both come from `normalize_email`, so they agree.
Validation is the maintained `email-validator` package (RFC 5321/5322 syntax, IDNA 2008 domains).
"""

from __future__ import annotations

import hashlib
import unicodedata

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


class InvalidEmailError(ValueError):
    """Not an address Constant Contact can take; the message says why (without echoing the address)."""


def _trimmed(raw: str) -> str:
    email = raw.strip().strip("<>").strip()
    if email[:7].lower() == "mailto:":
        email = email[7:].strip()
    return email


def _ascii_domain(domain: str) -> str:
    """The domain's one form: ASCII letters lower-cased, an internationalised name in its punycode form."""
    lowered = domain.translate(_ASCII_LOWER)
    if lowered.isascii():
        return lowered
    import idna  # on first use: most addresses are ASCII

    try:
        return idna.encode(unicodedata.normalize("NFC", lowered), uts46=False).decode("ascii")
    except idna.IDNAError:
        return lowered  # not a valid name: left as it is (never folded into another address)


def normalize_email(raw: str) -> str:
    """The one form of an address: trimmed, `<>` and `mailto:` dropped, ASCII letters lower-cased (Constant Contact
    stores addresses lower-cased), an internationalised domain in punycode.

    Only A-Z are lower-cased: `str.lower()` would fold a look-alike such as U+212A KELVIN SIGN into `k`.
    """
    email = _trimmed(raw)
    local, at, domain = email.rpartition("@")
    if not at:
        return email.translate(_ASCII_LOWER)
    return f"{local.translate(_ASCII_LOWER)}@{_ascii_domain(domain)}"


def validated_email(raw: str) -> str:
    """The normalised address of a form's answer, or InvalidEmailError.

    Checked before anything is lower-cased: a local part must be ASCII (a Unicode one needs SMTPUTF8, which
    Constant Contact does not document) and a Unicode domain must already be in its canonical form, so a
    look-alike character is refused instead of merging into another person's address. `ada@bücher.example` and
    `ada@xn--bcher-kva.example` are one address.
    """
    from email_validator import EmailNotValidError, validate_email  # on first use: ~40 ms off the cold start

    email = _trimmed(raw)
    local, at, domain = email.rpartition("@")
    if at and not local.isascii():
        raise InvalidEmailError("the part before the @ has characters other than ASCII")
    try:
        result = validate_email(email, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as error:
        raise InvalidEmailError(str(error)) from None
    if not domain.isascii() and unicodedata.normalize("NFC", domain.translate(_ASCII_LOWER)) != result.domain:
        raise InvalidEmailError("the domain has look-alike characters that change when normalised")
    return normalize_email(result.ascii_email or email)


def contact_key(email: str) -> str:
    """FIFO message group id: one group per person, so their sign-ups are applied in order."""
    return hashlib.sha256(normalize_email(email).encode("utf-8")).hexdigest()
