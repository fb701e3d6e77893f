"""The demo account of `make demo` (written to events/sandbox_seed.json) and the addresses of the sign-ups that meet it.

The local stack seeds the EMBEDDED sandbox with SANDBOX_SEED when LOCAL_SANDBOX_SEED names that file (`make demo`
does; see local/sandbox_seed.py), so the demo shows the upsert policy (README.md, "The upsert policy") on an account
that looks lived in. The generic scenarios in local/events/scenarios.py are the sign-ups that meet each contact.
"""

from __future__ import annotations

from typing import Any

DELETED_EMAIL = "mary.anning@example.com"
UNSUBSCRIBED_EMAIL = "inge.lehmann@example.com"
RESUBSCRIBING_EMAIL = "williamina.fleming@example.com"
ACTIVE_EMAIL = "dorothy.hodgkin@example.com"
LONG_EMAIL = "maria.goeppert-mayer.nuclear-shell-model@physics-department.example.edu"  # 71: too long for sign_up_form
UNKNOWN_LIST_EMAIL = "annie.jump.cannon@example.com"
UNKNOWN_LIST = "Variable star observers"
V2_NEW_EMAIL = "nettie.stevens@example.com"
V2_DELETED_EMAIL = "agnes.pockels@example.com"

SANDBOX_SEED: dict[str, Any] = {
    "_comment": (
        "The demo account of `make demo` (LOCAL_SANDBOX_SEED, embedded sandbox only; local/sandbox_seed.py). "
        "Written by `python -m local.events` with the events that meet it: edit SANDBOX_SEED there."
    ),
    "lists": ["Newsletter", "Customers"],
    "custom_fields": ["Member since"],
    "contacts": [
        {
            "_scenario": "generic_returning_deleted_contact.json: soft-deleted (the POST 409 trap) -> revived",
            "email": DELETED_EMAIL,
            "first_name": "Mary",
            "last_name": "Anning",
            "lists": ["Newsletter"],
            "deleted": True,
        },
        {
            "_scenario": "generic_v2_deleted_in_ui.json: deleted in the UI, V2's POST 409 -> revived through V3",
            "email": V2_DELETED_EMAIL,
            "first_name": "Agnes",
            "last_name": "Pockels",
            "job_title": "Surface chemist",
            "lists": ["Newsletter"],
            "deleted": True,
        },
        {
            "_scenario": "generic_unsubscribed_no_consent.json: unsubscribed herself -> kept_unsubscribed",
            "email": UNSUBSCRIBED_EMAIL,
            "first_name": "Inge",
            "last_name": "Lehmann",
            "lists": ["Newsletter"],
            "permission_to_send": "unsubscribed",
            "opt_out_source": "Contact",
            "opt_out_reason": "Too many emails",
        },
        {
            "_scenario": "generic_unsubscribed_opts_in_again.json: unsubscribed herself, ticks consent -> resubscribed",
            "email": RESUBSCRIBING_EMAIL,
            "first_name": "Williamina",
            "last_name": "Fleming",
            "permission_to_send": "unsubscribed",
            "opt_out_source": "Contact",
        },
        {
            "_scenario": "generic_existing_contact_update.json: active, fields the form never sends -> updated",
            "email": ACTIVE_EMAIL,
            "first_name": "Dorothy",
            "last_name": "Hodgkin",
            "job_title": "Crystallographer",
            "phone_numbers": [{"phone_number": "+44 1865 555 0110", "kind": "work"}],
            "street_addresses": [
                {
                    "kind": "work",
                    "street": "South Parks Road",
                    "city": "Oxford",
                    "postal_code": "OX1 3QZ",
                    "country": "United Kingdom",
                }
            ],
            "birthday_month": 5,
            "birthday_day": 12,
            "custom_fields": {"Member since": "1964"},
            "lists": ["Customers"],
        },
    ],
}


# The generic sign-ups that meet the seeded contacts (and two edge cases of the same account):
# events/ file -> (route, JSON body, expected outcome). local/events/scenarios.py turns each into a Scenario.
SEED_SIGNUPS: dict[str, tuple[str, dict[str, Any], str]] = {
    "generic_returning_deleted_contact.json": (
        "generic",
        {"email": DELETED_EMAIL, "first_name": "Mary", "last_name": "Anning", "lists": "newsletter"},
        "revived",
    ),
    "generic_unsubscribed_no_consent.json": (
        "generic",
        {"email": UNSUBSCRIBED_EMAIL, "first_name": "Inge", "last_name": "Lehmann", "company": "Geodetic Inst."},
        "kept_unsubscribed",
    ),
    "generic_unsubscribed_opts_in_again.json": (
        "generic",
        {"email": RESUBSCRIBING_EMAIL, "first_name": "Williamina", "last_name": "Fleming", "consent": "yes"},
        "resubscribed",
    ),
    "generic_existing_contact_update.json": (
        "generic",
        {"email": ACTIVE_EMAIL, "company": "University of Oxford", "lists": "events"},
        "updated",
    ),
    "generic_long_email.json": (
        "generic",
        {"email": LONG_EMAIL, "first_name": "Maria", "last_name": "Goeppert Mayer", "consent": "yes"},
        "created",
    ),
    # The legacy V2 API (route generic-legacy-v2, docs/architecture.md §10) on the same account.
    "generic_v2_signup.json": (
        "generic-legacy-v2",
        {
            "email": V2_NEW_EMAIL,
            "first_name": "Nettie",
            "last_name": "Stevens",
            "referral": "Bryn Mawr",
            "consent": "yes",
        },
        "created",
    ),
    "generic_v2_deleted_in_ui.json": (
        "generic-legacy-v2",
        {"email": V2_DELETED_EMAIL, "first_name": "Agnes", "last_name": "Pockels"},
        "revived",
    ),
    "generic_v2_unsubscribed_no_consent.json": (
        "generic-legacy-v2",
        {"email": UNSUBSCRIBED_EMAIL, "first_name": "Inge", "last_name": "Lehmann"},
        "kept_unsubscribed",
    ),
    "generic_list_not_in_account.json": (
        "generic-existing-lists",
        {"email": UNKNOWN_LIST_EMAIL, "first_name": "Annie", "last_name": "Cannon", "lists": UNKNOWN_LIST},
        "rejected",
    ),
}
