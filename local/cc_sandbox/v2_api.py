"""The V2 (legacy API) front door of the sandbox: `/v2/...` requests checked as V2 checks them, then routed.

Order of checks: `api_key` (403 `mashery.not.authorized.inactive`), the key's limits (403 `over.qps` per second,
403 `over.ratelimit` per day), the Bearer token (401), injected faults, routing (404/405), query parameters
(400 `query.param.invalid`), Content-Type (415), JSON (400), then the operation. Limits count per API key, with
counters of their own (not V3's). Rules and sources: local/README.md ("V2").
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from local.cc_sandbox.clock import SandboxClock
from local.cc_sandbox.errors import ApiError
from local.cc_sandbox.limits import DailyQuota, FaultInjector, SlidingWindowLimiter, limit_refusal
from local.cc_sandbox.oauth import bearer_token
from local.cc_sandbox.routing import ID, compile_routes, match_route, then
from local.cc_sandbox.v2 import OWNER, V2Account
from local.cc_sandbox.v2_validation import bad_request, check_query, v2_error

_ROUTES = compile_routes(
    (
        ("GET", r"/v2/contacts", "list_contacts"),
        ("POST", r"/v2/contacts", "create_contact"),
        ("GET", rf"/v2/contacts/{ID}", "get_contact"),
        ("PUT", rf"/v2/contacts/{ID}", "put_contact"),
        ("DELETE", rf"/v2/contacts/{ID}", "delete_contact"),
        ("GET", r"/v2/lists", "get_lists"),
        ("POST", r"/v2/lists", "create_list"),
    )
)
_STATUS_KEYS = {
    400: "http.status.bad_request",
    401: "unauthorized",
    404: "http.status.not_found",
    405: "http.status.method_not_allowed",
    409: "http.status.conflict",
    415: "http.status.unsupported_media_type",
    500: "http.status.internal_server_error",
    502: "http.status.bad_gateway",
    503: "http.status.service_unavailable",
    504: "http.status.gateway_timeout",
}

NOT_AUTHORIZED_BODY = [{"error_key": "mashery.not.authorized.inactive", "error_message": "Not Authorized"}]
UNAUTHORIZED_BODY = [{"error_key": "unauthorized", "error_message": "Unauthorized"}]
OVER_QPS_BODY = [{"error_key": "over.qps", "error_message": "Account Over Queries Per Second Limit"}]
OVER_RATE_BODY = [{"error_key": "over.ratelimit", "error_message": "Account Over Rate Limit"}]


def status_error(status: int, message: str | None = None) -> ApiError:
    """A V2 error array for an HTTP status (used for routing errors and injected faults)."""
    key = _STATUS_KEYS.get(status, f"http.status.{status}")
    return v2_error(status, key, message or key.removeprefix("http.status.").replace("_", " ").capitalize() + ".")


@dataclass
class V2Token:
    api_key: str
    revoked: bool = False


class V2Api:
    """V2 API keys, their long-lived access tokens (no refresh on V2), their limits, and the routes."""

    def __init__(
        self,
        account: V2Account,
        clock: SandboxClock,
        faults: FaultInjector,
        *,
        rate_limit_per_second: float,
        daily_quota: int,
        before_operation: Callable[[], None] = lambda: None,
    ) -> None:
        self.account = account
        self._faults = faults
        self._before_operation = before_operation
        self._lock = threading.Lock()
        self._keys: set[str] = set()
        self._tokens: dict[str, V2Token] = {}
        # Every request with a valid key counts toward its limits, refused ones included (as on V3).
        self.rate = SlidingWindowLimiter(clock, rate_limit_per_second, count_rejected=True)
        self.quota = DailyQuota(clock, daily_quota)

    # --- keys and tokens -----------------------------------------------------------------------

    def add_key(self, api_key: str | None = None) -> tuple[str, str]:
        """Register a V2 API key and issue it an access token: (api_key, access_token)."""
        key = api_key or secrets.token_hex(12)
        with self._lock:
            self._keys.add(key)
        return key, self.issue_token(key)

    def issue_token(self, api_key: str) -> str:
        token = secrets.token_hex(18)
        with self._lock:
            if api_key not in self._keys:
                raise ValueError("unknown V2 API key")
            self._tokens[token] = V2Token(api_key)
        return token

    def revoke_token(self, token: str) -> None:
        """The account owner revoked the app's access: the token answers 401 from now on."""
        with self._lock:
            self._tokens[token].revoked = True

    def _token_ok(self, headers: dict[str, str], api_key: str) -> bool:
        with self._lock:
            record = self._tokens.get(bearer_token(headers))
            return record is not None and not record.revoked and record.api_key == api_key

    # --- requests ------------------------------------------------------------------------------

    def handle(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], raw: bytes
    ) -> tuple[int, Any, str | None]:
        """Answer one `/v2/` request: (status, JSON body or None, the API key it counted against)."""
        api_key = query.get("api_key", "")
        with self._lock:
            known = api_key in self._keys
        if not known:
            return 403, list(NOT_AUTHORIZED_BODY), None
        refusal = limit_refusal(self.rate, self.quota, api_key)
        if refusal is not None:
            return 403, list(OVER_RATE_BODY if refusal == "quota" else OVER_QPS_BODY), api_key
        if not self._token_ok(headers, api_key):
            return 401, list(UNAUTHORIZED_BODY), api_key
        fault = self._faults.take(method, path)
        if fault is not None:
            return fault, status_error(fault).body, api_key
        try:
            status, body = self._route(method, path, query, headers, raw)
        except ApiError as exc:
            status, body = exc.status, exc.body
        return status, body, api_key

    def _route(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], raw: bytes
    ) -> tuple[int, Any]:
        match, name = match_route(_ROUTES, method, path, status_error)
        check_query(name, query)
        v2_id = match.groupdict().get("id", "")
        action_by = query.get("action_by") or OWNER
        body: Any = None
        if method in ("POST", "PUT"):
            if headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
                raise status_error(415, "Content-Type must be application/json.")
            try:
                body = json.loads(raw) if raw.strip() else None
            except (ValueError, UnicodeDecodeError):
                raise bad_request("The request body is not valid JSON.") from None
            if body is None:
                raise bad_request("The request body is required.")
        self._before_operation()
        account = self.account
        operations: dict[str, Callable[[], tuple[int, Any]]] = {
            "list_contacts": lambda: (200, account.list_contacts(query)),
            "create_contact": lambda: (201, account.create_contact(body, action_by)),
            "get_contact": lambda: (200, account.get_contact(v2_id, query)),
            "put_contact": lambda: (200, account.put_contact(v2_id, body, action_by)),
            "delete_contact": lambda: then(account.delete_contact, v2_id, answer=(204, None)),
            "get_lists": lambda: (200, account.get_lists(query)),
            "create_list": lambda: (201, account.create_list(body)),
        }
        return operations[name]()
