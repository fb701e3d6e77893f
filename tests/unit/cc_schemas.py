"""The property names of the Constant Contact V3 request bodies the upsert policy builds."""

from __future__ import annotations

# From the request schemas of constant-contact-v3-swagger.yaml (ContactPutRequest, ContactPostRequest,
# ContactCreateOrUpdateInput).
PUT_PROPERTIES = {
    "email_address",
    "first_name",
    "last_name",
    "job_title",
    "company_name",
    "birthday_month",
    "birthday_day",
    "anniversary",
    "update_source",
    "custom_fields",
    "phone_numbers",
    "street_addresses",
    "list_memberships",
    "taggings",
    "notes",
    "sms_channel",
}
POST_PROPERTIES = (PUT_PROPERTIES - {"update_source"}) | {"create_source"}
SIGN_UP_FORM_PROPERTIES = {
    "email_address",
    "first_name",
    "last_name",
    "job_title",
    "company_name",
    "phone_number",
    "list_memberships",
    "custom_fields",
    "anniversary",
    "birthday_month",
    "birthday_day",
    "street_address",
    "sms_channel",
}
