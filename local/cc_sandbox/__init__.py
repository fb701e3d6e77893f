"""The Constant Contact V3 sandbox: a real HTTP server on 127.0.0.1 that behaves like the real API (never deployed).

Rules come from `shared/reference/constant-contact-api.md` and the official V3 spec, never from what a client sends.

Layout: `server.Sandbox` (HTTP server + test helpers), `store` (account state and every V3 operation), `validation`
(request-body rules), `oauth` (authorize / token / device endpoints), `limits` (rate, quota, faults), `clock`
(injectable time), `errors` (real error bodies). CLI: `python -m local.cc_sandbox --port 8790`.

Endpoints: /v3/contacts (GET, POST), /v3/contacts/{id} (GET, PUT, DELETE), /v3/contacts/sign_up_form (POST),
/v3/contacts/resubscribe/{id} (PUT), /v3/contact_lists (GET, POST), /v3/contact_lists/{id} (GET),
/v3/contact_custom_fields (GET, POST), /v3/contact_tags (GET, POST), /v3/activities/contacts_json_import,
/v3/activities/add_list_memberships, /v3/activities/contacts_taggings_add (POST), /v3/activities/{id} (GET);
/oauth2/default/v1/authorize (GET), /oauth2/default/v1/token (POST), /oauth2/default/v1/device/authorize (POST),
/activate (the device-flow verification page).

Documented behaviour implemented as stated: soft delete (deleted_at, lists dropped, permission kept); a plain
GET /contacts hides deleted contacts (status=all shows them); POST /contacts answers 409 `contacts.api.conflict`
"Validation failed: Email already exists for contact <id>" for ANY existing email, deleted ones included; PUT nulls
omitted/blank core properties and keeps omitted subresources, needs update_source, and revives a deleted contact
only with update_source Account plus >= 1 list; sign_up_form (email string <= 50) appends lists and custom fields,
revives deleted contacts, sets explicit even for unsubscribed contacts (new contacts: explicit + opt_in_source
Contact, or pending_confirmation when confirmed_opt_in), 201/200 {contact_id, action: created|updated}, and its own
409 for concurrent writes to the same contact; resubscribe only once per unsubscribed contact; JSON import creates
implicit/opt_in_source Account contacts and counts unsubscribed ones in cannot_add_to_list_count; 401 body is the
single object {"error_key":"unauthorized","error_message":"Unauthorized"}; 429 bodies are single objects
`throttled` / `quota_exceeded`; every other error body is an array of {error_key, error_message}.

Choices where the docs are UNCONFIRMED (the stricter reasonable behaviour, on purpose):
- Unknown properties in a request body (top level AND inside nested objects) -> 400. Bodies must follow the
  REQUEST schemas: e.g. PUT takes phone_numbers [{phone_number, kind}] only (no phone_number_id), no contact_id /
  create_source / created_at at top level, and email_address without opt_in_source. Read-only properties that the
  spec lists on EmailAddressPut (created_at, updated_at, opt_in_date, opt_out_source, opt_out_date,
  confirm_status) are accepted and ignored.
- PUT list_memberships, custom_fields, phone_numbers, street_addresses, taggings and notes REPLACE the stored set
  when sent (send the merged set). PUT without email_address -> 400 (an email cannot be nulled). PUT that omits
  permission_to_send keeps the current permission.
- PUT that would change permission_to_send of a contact who unsubscribed themselves (opt_out_source Contact) -> 400;
  a PUT that leaves a contact unsubscribed and ADDS lists -> 400 (keeping or removing its lists is fine). A contact
  unsubscribed by the Account may be set back to a permission and re-listed by PUT (the spec says the account may
  add it back). A deleted contact whose opt-out came from the Contact therefore cannot be revived by PUT.
- PUT on a deleted contact without update_source Account and >= 1 list -> 400 (not a silent no-op).
- POST /contacts without permission_to_send creates `implicit`; opt_in_source = create_source. The sandbox holds
  email contacts only (no email_address -> 400). POST with permission unsubscribed and lists -> 400.
- Emails are unique and matched case-insensitively (409, GET email=, sign_up_form, import); the stored address keeps
  the case it was created with. Email format is checked (x@y.z) -> 400.
- status filter: `active` = not deleted and not unsubscribed; `deleted` = deleted_at set (whatever the permission);
  the other values match permission_to_send of non-deleted contacts; `all` = everything.
- Responses omit properties that have no value (no nulls); POST/PUT /contacts respond with every subresource.
  deleted_at is a date (YYYY-MM-DD); other timestamps ISO-8601 UTC with milliseconds.
- Paging: `_links.next.href` is a path "/v3/...?cursor=<opaque>" (prefix it with the host); the cursor carries the
  original query, so follow it as is.
- sign_up_form phone_number is stored as kind "other" (appended when new; at most 3 kept); street_address replaces
  the stored address of the same kind. Lists beyond 50 or custom fields beyond 25 after appending -> 400.
- sign_up_form's concurrent-write 409 body: [{"error_key":"contacts.api.conflict","error_message":"You sent
  simultaneous requests that are attempting to modify the same contact."}]. Writes to one contact (POST, PUT,
  DELETE, resubscribe, sign_up_form) hold a per-contact lock for the whole request incl. `latency`; the others wait,
  sign_up_form answers 409 instead.
- DELETE of an already deleted contact -> 204 (idempotent, deleted_at unchanged); unknown id -> 404.
- PUT /contacts/resubscribe/{id}: 200 with an EMPTY body (the spec gives no schema); contact not unsubscribed -> 400;
  second request for the same contact -> 409. Permission is unchanged until `confirm_resubscribe()` (the contact
  clicking the email) sets explicit and adds the lists.
- Bulk activities: POST answers 201 with state `initialized`; the work runs when `activity_delay` (sandbox clock,
  default 0) has passed, at the start of the next request of any kind, after which GET /activities/{id} shows
  `completed` (before that: `processing`). Row problems in a JSON import are counted (correctable_count for a bad or
  missing email, error_count otherwise) with messages in activity_errors; unknown row properties (other than the
  spec's and `cf:<name>`) -> 400 up front. Blank import values do not overwrite stored values. A deleted contact in
  an import or add_list_memberships is revived (added to the lists) unless it is unsubscribed. Only source
  contact_ids / list_ids / tag_ids / all_active_contacts are supported in activity sources (exactly one).
- Custom fields: type must be `string` or `date`; name = label with blanks turned into underscores; duplicate
  names (case-insensitive) -> 409; likewise duplicate list and tag names.
- Error keys not given by the docs: 400 `contacts.api.validation.error` (also for malformed JSON), 404
  `contacts.api.not_found`, 409 `contacts.api.conflict`, 415 `contacts.api.unsupported_media_type`, 403
  `contacts.api.forbidden` (token without contact_data scope), 405 `method_not_allowed`, injected 500/503
  `server_error` / `service_unavailable`. POST/PUT with a Content-Type other than application/json -> 415 (checked
  before the body is parsed).
- Limits count per client (API key); a request over the limit is not counted; the quota is checked before the
  per-second limit; 401s are not counted. No Retry-After header is sent. Order of checks on /v3: auth (401),
  scope (403), quota / rate (429), then injected faults (a faulted request did count toward the limits), then
  routing (404/405), Content-Type (415), JSON (400), `latency`, and the operation.
- OAuth: access tokens are JWT-shaped (HS256, sandbox key; claims iss, aud, cid, sub, scp, iat, exp) and looked up
  server-side; refresh requires HTTP Basic client auth (client_secret in the form -> 401 invalid_client), except for
  grants obtained without a secret (PKCE public client, device flow), which refresh with client_id. Rotating
  refresh invalidates every earlier refresh token of the same grant (other grants are untouched); access tokens
  already issued stay valid until they expire. Refresh tokens expire 180 days after their last use. Token endpoint
  429 body: {"error":"too_many_requests","error_description":...}; rejected calls do not use up the 1/s budget.
  Authorization codes live 5 minutes and are single-use (a replay -> invalid_grant and revokes that grant's
  tokens); PKCE only S256; redirect_uri must be loopback (127.0.0.1/localhost) or in `.oauth.redirect_uris`.
  Device flow: slow_down adds 5 s to the interval (RFC 8628); device codes live 600 s.
"""

from local.cc_sandbox.clock import SandboxClock
from local.cc_sandbox.oauth import pkce_challenge
from local.cc_sandbox.server import Sandbox

__all__ = ["Sandbox", "SandboxClock", "pkce_challenge"]
