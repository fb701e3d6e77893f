"""Finding a contact field among a submission's answers: by the route's key or label, by the sender's field type,
or by common labels ('Your E-mail *' matches `email`)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from signup_relay.receive.submission import (
    KIND_CITY,
    KIND_COUNTRY,
    KIND_EMAIL,
    KIND_FIRST_NAME,
    KIND_FULL_NAME,
    KIND_LAST_NAME,
    KIND_PHONE,
    KIND_POSTAL_CODE,
    KIND_STATE,
    KIND_STREET,
    Answer,
)

# Default labels/keys per contact field, compared after lower-casing and dropping everything but a-z0-9.
DEFAULT_LABELS: dict[str, frozenset[str]] = {
    "email": frozenset({"email", "emailaddress", "youremail", "yourmail", "mail", "emailadress", "courriel"}),
    "first_name": frozenset(
        {"firstname", "first", "fname", "givenname", "forename", "yourfirstname", "namefirst", "prenom", "vorname"}
    ),
    "last_name": frozenset(
        {"lastname", "last", "lname", "surname", "familyname", "yourlastname", "namelast", "nom", "nachname"}
    ),
    "full_name": frozenset({"name", "fullname", "yourname", "contactname", "namefirstandlast", "firstandlast"}),
    "phone": frozenset(
        {"phone", "phonenumber", "telephone", "tel", "mobile", "mobilephone", "mobilenumber", "cell", "yourphone"}
    ),
    "company_name": frozenset(
        {"company", "companyname", "organization", "organisation", "organizationname", "business", "yourcompany"}
    ),
    "job_title": frozenset({"jobtitle", "position", "jobposition", "yourjobtitle"}),
    "street": frozenset({"street", "streetaddress", "address", "address1", "addressline1", "addrline1", "street1"}),
    "street2": frozenset({"address2", "addressline2", "addrline2", "street2"}),
    "city": frozenset({"city", "town", "addresscity"}),
    "state": frozenset({"state", "province", "region", "stateprovince", "county", "addressstate"}),
    "postal_code": frozenset({"zip", "zipcode", "postalcode", "postcode", "postal", "addresspostal", "addresszip"}),
    "country": frozenset({"country", "addresscountry"}),
    "birthday": frozenset({"birthday", "birthdate", "dateofbirth", "dob"}),
    "anniversary": frozenset({"anniversary"}),
}
KIND_OF_FIELD = {
    "email": KIND_EMAIL,
    "first_name": KIND_FIRST_NAME,
    "last_name": KIND_LAST_NAME,
    "full_name": KIND_FULL_NAME,
    "phone": KIND_PHONE,
    "street": KIND_STREET,
    "city": KIND_CITY,
    "state": KIND_STATE,
    "postal_code": KIND_POSTAL_CODE,
    "country": KIND_COUNTRY,
}


def label_key(text: str) -> str:
    """'Your E-mail *' -> 'youremail': how default labels are compared."""
    return re.sub(r"[^a-z0-9]", "", text.lower())


class AnswerLookup:
    """Answer lookup by configured key/label, by field-type hint, or by default labels."""

    def __init__(self, answers: Iterable[Answer]) -> None:
        self.answers = tuple(answers)

    def find(self, spec: str) -> Answer | None:
        folded = spec.casefold()
        for match in (
            lambda a: a.key == spec,
            lambda a: a.key.casefold() == folded or (a.label or "").casefold() == folded,
            lambda a: label_key(a.key) == label_key(spec) or label_key(a.label or "") == label_key(spec),
        ):
            found = next((a for a in self.answers if match(a)), None)
            if found is not None:
                return found
        return None

    def parts(self, spec: str) -> dict[str, str]:
        """Sub-answers of a compound field: 'q5_birthday' -> {'month': '3', 'day': '1', ...}."""
        folded = spec.casefold() + "."
        return {a.key[len(folded) :].casefold(): a.text for a in self.answers if a.key.casefold().startswith(folded)}

    def default(self, field: str) -> Answer | None:
        kind = KIND_OF_FIELD.get(field)
        if kind is not None:
            found = next((a for a in self.answers if a.kind == kind), None)
            if found is not None:
                return found
        labels = DEFAULT_LABELS.get(field, frozenset())
        for answer in self.answers:
            typed = answer.kind in KIND_OF_FIELD.values()  # a typed answer (email, phone...) is not a name
            names = (
                label_key(answer.label or ""),
                label_key(answer.key),
                label_key(answer.key.rsplit(".", 1)[-1]),  # a compound's part: "Address.address2"
            )
            if not typed and any(name in labels for name in names):
                return answer
        if field == "email":  # a last resort: the only answer named like an email that holds an address
            candidates = [a for a in self.answers if "email" in label_key(f"{a.key} {a.label or ''}") and "@" in a.text]
            if len(candidates) == 1:
                return candidates[0]
        return None
