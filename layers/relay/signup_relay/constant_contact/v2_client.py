"""Constant Contact's legacy V2 API: the endpoints the V2 upsert needs, over the V3 client's transport.

Every call carries the `api_key` query parameter and the bearer token. Pacing, call counting, resending after a
5xx or a lost answer, and the typed errors are `ApiTransport`'s; only how V2 reports its limits differs: a 403 with
error key `over.qps` (per second: throttled) or `over.ratelimit` (per day: quota exceeded), not a 429. A 403
`mashery.not.authorized.inactive` means the API key is wrong or deactivated, which no retry fixes. There is
deliberately no DELETE: on V2 it unsubscribes the contact (docs/architecture.md §10).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Literal, Protocol

from signup_relay.constant_contact.transport import AccessTokenSource, ApiErrorDetail, ApiTransport
from signup_relay.errors import QuotaExceededError, ReauthorizationRequiredError, ThrottledError, TransientError

ActionBy = Literal["ACTION_BY_VISITOR", "ACTION_BY_OWNER"]
V2_THROTTLED = "over.qps"
V2_QUOTA_EXCEEDED = "over.ratelimit"
V2_KEY_REJECTED = "mashery.not.authorized.inactive"


class V2Credentials(AccessTokenSource, Protocol):
    """The bearer token (and its 401 handling) plus the API key: `tokens.reader.TokenProvider` for a V2 secret."""

    secret_id: str

    def api_key(self) -> str: ...


class ConstantContactV2Client(ApiTransport):
    """Constant Contact V2 (`CC_V2_API_BASE_URL`). Thread-safe; count calls with `meter()`."""

    def __init__(self, *, tokens: V2Credentials, **transport: Any) -> None:
        super().__init__(tokens=tokens, **transport)
        self._credentials = tokens

    @property
    def quota_key(self) -> str:
        """The id of this client's API key, whose daily quota its calls spend: a digest, never the key itself."""
        return quota_key_of(self._credentials.api_key())

    def _auth_params(self) -> dict[str, str]:
        return {"api_key": self._credentials.api_key()}

    def _rate_limit(self, status: int, details: list[ApiErrorDetail]) -> type[TransientError] | None:
        if status != 403:
            return None
        keys = {detail.error_key for detail in details}
        if V2_QUOTA_EXCEEDED in keys:
            return QuotaExceededError
        if V2_THROTTLED in keys:
            return ThrottledError
        return None

    def _error_for(self, operation: str, status: int, details: list[ApiErrorDetail]) -> Exception:
        if status == 403 and any(detail.error_key == V2_KEY_REJECTED for detail in details):
            secret_id = self._credentials.secret_id
            return ReauthorizationRequiredError(
                f"{operation}: Constant Contact V2 refused the API key of secret {secret_id} (403 {V2_KEY_REJECTED}: "
                f"wrong or deactivated key); store the right one with `make connect ARGS='--api v2 --secret-id "
                f"{secret_id}'`, then replay",
                status=status,
                operation=operation,
                error_key=V2_KEY_REJECTED,
            )
        error = super()._error_for(operation, status, details)
        if isinstance(error, QuotaExceededError):  # this V2 key's quota, not the V3 app key's
            error.quota_key = self.quota_key
        return error

    # --- contacts ----------------------------------------------------------------------------------

    def find_contacts_by_email(self, email: str) -> list[dict[str, Any]]:
        """GET /contacts?email=...&status=ALL (a contact deleted in the UI is not found this way)."""
        body = self.request("v2.contacts.find", "GET", "contacts", params={"email": email, "status": "ALL"}) or {}
        return list(body.get("results") or []) if isinstance(body, dict) else []

    def create_contact(self, body: Mapping[str, Any], *, action_by: ActionBy) -> dict[str, Any]:
        """POST /contacts?action_by=...; a 409 means the address exists (maybe invisible to the lookup)."""
        params = {"action_by": action_by}
        return dict(self.request("v2.contacts.create", "POST", "contacts", params=params, json_body=body) or {})

    def update_contact(self, contact_id: str, body: Mapping[str, Any], *, action_by: ActionBy) -> dict[str, Any]:
        """PUT /contacts/{id}?action_by=...: a full overwrite (what is not sent becomes null): send a merged record."""
        params = {"action_by": action_by}
        path = f"contacts/{contact_id}"
        return dict(self.request("v2.contacts.update", "PUT", path, params=params, json_body=body) or {})

    # --- lists ---------------------------------------------------------------------------------------

    def list_contact_lists(self) -> list[dict[str, Any]]:
        """GET /lists: a plain JSON array of {id, name, status, ...}."""
        body = self.request("v2.lists.list", "GET", "lists")
        return [{**item, "id": str(item.get("id") or "")} for item in body or [] if isinstance(item, dict)]

    def create_list(self, name: str) -> dict[str, Any]:
        body = {"name": name, "status": "ACTIVE"}
        created = dict(self.request("v2.lists.create", "POST", "lists", json_body=body) or {})
        return {**created, "id": str(created.get("id") or "")}


def quota_key_of(api_key: str) -> str:
    """`v2-` and 12 hex digits of the key's SHA-256: names the key in logs and the breaker without revealing it."""
    return "v2-" + hashlib.sha256(api_key.encode("utf-8")).hexdigest()[:12]
