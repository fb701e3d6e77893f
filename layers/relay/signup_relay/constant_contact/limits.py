"""Constant Contact contact limits, declared once: receive fits form values to them, upsert bounds bodies.

Source: the V3 API reference for ContactPostRequest / ContactPutRequest / ContactCreateOrUpdateInput,
https://developer.constantcontact.com/api_reference/index.html#!/Contacts/createContact
"""

from __future__ import annotations

import re

# Longest value of each core field (characters), so an upsert never gets a 400 for length.
FIELD_LENGTHS = {
    "email": 80,
    "first_name": 50,
    "last_name": 50,
    "job_title": 50,
    "company_name": 50,
    "phone": 25,
    "street": 255,
    "city": 50,
    "state": 50,
    "postal_code": 50,
    "country": 50,
    "anniversary": 10,
}
MAX_EMAIL = FIELD_LENGTHS["email"]  # /contacts email_address.address
SIGN_UP_FORM_MAX_EMAIL = 50  # sign_up_form's email_address is a string of at most 50 characters
IMPORT_MAX_EMAIL = 50  # contacts_json_import's `email` (the V3 ImportData schema)
CUSTOM_FIELD_VALUE_LENGTH = 255
NAME_LENGTH = 255  # list and tag names

# How many of each a contact holds.
MAX_PHONES = 3
MAX_ADDRESSES = 3
MAX_LISTS = 50
MAX_TAGS = 50
MAX_CUSTOM_FIELDS = 25
MAX_NOTES = 150
MAX_NOTE_LENGTH = 2000

# V2's only custom fields (docs/architecture.md §10).
V2_CUSTOM_FIELD = re.compile(r"^CustomField([1-9]|1[0-5])$")
