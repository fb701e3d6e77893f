"""The HTTP side of the sandbox: a ThreadingHTTPServer on 127.0.0.1 and the `Sandbox` facade tests drive."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from local.background_server import BackgroundServer, ToolHTTPServer, ToolRequestHandler
from local.cc_sandbox.activities import ActivityQueue
from local.cc_sandbox.clock import SandboxClock, iso
from local.cc_sandbox.errors import (
    QUOTA_BODY,
    THROTTLED_BODY,
    UNAUTHORIZED_BODY,
    ApiError,
    api_error,
    concurrent_write,
    status_body,
)
from local.cc_sandbox.limits import DailyQuota, FaultInjector, SlidingWindowLimiter, limit_refusal
from local.cc_sandbox.oauth import DEFAULT_SCOPE, OAuthServer, bearer_token
from local.cc_sandbox.routing import ID, compile_routes, match_route, then
from local.cc_sandbox.store import AccountStore
from local.cc_sandbox.v2 import V2Account
from local.cc_sandbox.v2_api import V2Api
from local.cc_sandbox.validation import SUBRESOURCES, check_query

OAUTH_PREFIX = "/oauth2/default/v1"
_ROUTES = compile_routes(
    (
        ("GET", r"/v3/contacts", "list_contacts"),
        ("POST", r"/v3/contacts", "create_contact"),
        ("POST", r"/v3/contacts/sign_up_form", "sign_up_form"),
        ("PUT", rf"/v3/contacts/resubscribe/{ID}", "resubscribe"),
        ("GET", r"/v3/contacts/contact_id_xrefs", "contact_id_xrefs"),
        ("GET", rf"/v3/contacts/{ID}", "get_contact"),
        ("PUT", rf"/v3/contacts/{ID}", "put_contact"),
        ("DELETE", rf"/v3/contacts/{ID}", "delete_contact"),
        ("GET", r"/v3/contact_lists", "get_lists"),
        ("POST", r"/v3/contact_lists", "create_list"),
        ("GET", r"/v3/contact_lists/list_id_xrefs", "list_id_xrefs"),
        ("GET", rf"/v3/contact_lists/{ID}", "get_list"),
        ("GET", r"/v3/contact_custom_fields", "get_custom_fields"),
        ("POST", r"/v3/contact_custom_fields", "create_custom_field"),
        ("GET", r"/v3/contact_tags", "get_tags"),
        ("POST", r"/v3/contact_tags", "create_tag"),
        ("POST", r"/v3/activities/contacts_json_import", "json_import"),
        ("POST", r"/v3/activities/add_list_memberships", "add_list_memberships"),
        ("POST", r"/v3/activities/contacts_taggings_add", "taggings_add"),
        ("GET", r"/v3/activities", "list_activities"),
        ("GET", rf"/v3/activities/{ID}", "get_activity"),
    )
)


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    client_id: str | None = None
    raw: bytes | None = None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _media_type(headers: dict[str, str]) -> str:
    return headers.get("content-type", "").split(";")[0].strip().lower()


class _HTTPServer(ToolHTTPServer):
    sandbox: Sandbox


class _Handler(ToolRequestHandler):
    server: _HTTPServer
    timeout = 30

    def _serve(self) -> None:
        raw = self.read_body()
        headers = {k.lower(): v for k, v in self.headers.items()}
        response = self.server.sandbox.handle(self.command, self.path, headers, raw)
        payload = response.raw if response.raw is not None else b""
        if response.raw is None and response.body is not None:
            payload = json.dumps(response.body).encode()
            response.headers.setdefault("Content-Type", "application/json")
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload:
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve


class Sandbox(BackgroundServer):
    """The Constant Contact V3 sandbox: a real HTTP server on 127.0.0.1 plus helpers to seed and inspect it."""

    def __init__(
        self,
        port: int = 0,
        rate_limit_per_second: float = 4.0,
        daily_quota: int = 10_000,
        access_token_ttl: float = 86400,
        refresh_token_type: str = "rotating",
        confirmed_opt_in: bool = False,
        *,
        host: str = "127.0.0.1",
        client_id: str | None = None,
        client_secret: str | None = None,
        token_rate_limit_per_second: float = 1.0,
        device_poll_interval: int = 5,
        activity_delay: float = 0.0,
        sign_up_form_duration: float = 0.05,
        clock: SandboxClock | None = None,
        activity_item_seconds: float = 0.0,
        time_scale: float = 1.0,
        v2_rate_limit_per_second: float | None = None,
        v2_daily_quota: int | None = None,
        v2_api_key: str | None = None,
    ) -> None:
        self.clock = clock or SandboxClock(time_scale)
        self.host = host
        self._requested_port = port
        self.store = AccountStore(self.clock, confirmed_opt_in=confirmed_opt_in)
        self.activities = ActivityQueue(self.store, activity_delay=activity_delay, item_seconds=activity_item_seconds)
        self.oauth = OAuthServer(
            self.clock,
            access_token_ttl=access_token_ttl,
            refresh_token_type=refresh_token_type,
            token_rate_limit_per_second=token_rate_limit_per_second,
            device_poll_interval=device_poll_interval,
        )
        self.client_id, self.client_secret = self.oauth.add_client(client_id, client_secret)
        # The API counts every authenticated request, refused ones included (local/README.md).
        self._rate = SlidingWindowLimiter(self.clock, rate_limit_per_second, count_rejected=True)
        self._quota = DailyQuota(self.clock, daily_quota)
        self._faults = FaultInjector()
        self.latency = 0.0
        # How long (real seconds) a sign_up_form occupies its contact: a second one for the same address that
        # arrives meanwhile gets the "simultaneous requests" 409. The lock is released before the answer is sent,
        # so a call made after the previous answer came back never meets it.
        self.sign_up_form_duration = sign_up_form_duration
        self._log: list[dict[str, Any]] = []
        self._log_lock = threading.Lock()
        self._contact_locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()
        # The V2 (legacy) API over the same store: its own API key, long-lived token and limits (V3's by default).
        self.v2 = V2Api(
            V2Account(self.store),
            self.clock,
            self._faults,
            rate_limit_per_second=(
                rate_limit_per_second if v2_rate_limit_per_second is None else v2_rate_limit_per_second
            ),
            daily_quota=daily_quota if v2_daily_quota is None else v2_daily_quota,
            before_operation=self._sleep_latency,
        )
        self.v2_api_key, self.v2_access_token = self.v2.add_key(v2_api_key)

    # --- lifecycle ---------------------------------------------------------------------------

    thread_name = "cc-sandbox"
    poll_interval = 0.01

    def _make_server(self) -> _HTTPServer:
        server = _HTTPServer((self.host, self._requested_port), _Handler)
        server.sandbox = self
        return server

    def _bound(self) -> None:
        self.oauth.root_url = self.root_url

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v3"

    @property
    def v2_base_url(self) -> str:
        return f"{self.root_url}/v2"

    @property
    def token_url(self) -> str:
        return f"{self.root_url}{OAUTH_PREFIX}/token"

    @property
    def authorize_url(self) -> str:
        return f"{self.root_url}{OAUTH_PREFIX}/authorize"

    @property
    def device_authorize_url(self) -> str:
        return f"{self.root_url}{OAUTH_PREFIX}/device/authorize"

    # --- settings that tests may change at run time ------------------------------------------

    @property
    def rate_limit_per_second(self) -> float:
        return self._rate.per_second

    @rate_limit_per_second.setter
    def rate_limit_per_second(self, value: float) -> None:
        self._rate.per_second = value

    @property
    def daily_quota(self) -> int:
        return self._quota.limit

    @daily_quota.setter
    def daily_quota(self, value: int) -> None:
        self._quota.limit = value

    @property
    def access_token_ttl(self) -> float:
        return self.oauth.access_token_ttl

    @access_token_ttl.setter
    def access_token_ttl(self, value: float) -> None:
        self.oauth.access_token_ttl = value

    @property
    def refresh_token_type(self) -> str:
        return self.oauth.refresh_token_type

    @refresh_token_type.setter
    def refresh_token_type(self, value: str) -> None:
        if value not in ("rotating", "long_lived"):
            raise ValueError("refresh_token_type must be 'rotating' or 'long_lived'")
        self.oauth.refresh_token_type = value

    @property
    def confirmed_opt_in(self) -> bool:
        return self.store.confirmed_opt_in

    @confirmed_opt_in.setter
    def confirmed_opt_in(self, value: bool) -> None:
        self.store.confirmed_opt_in = value

    @property
    def oauth_decision(self) -> str:
        """What the simulated account owner answers on the authorize page: "approve" or "deny"."""
        return self.oauth.oauth_decision

    @oauth_decision.setter
    def oauth_decision(self, value: str) -> None:
        if value not in ("approve", "deny"):
            raise ValueError("oauth_decision must be 'approve' or 'deny'")
        self.oauth.oauth_decision = value

    @property
    def auto_approve_devices(self) -> bool:
        """When true, new device-flow requests are approved at once (the first poll gets tokens)."""
        return self.oauth.auto_approve_devices

    @auto_approve_devices.setter
    def auto_approve_devices(self, value: bool) -> None:
        self.oauth.auto_approve_devices = value

    @property
    def activity_delay(self) -> float:
        """Sandbox seconds an activity waits `initialized` before it starts (default 0)."""
        return self.activities.activity_delay

    @activity_delay.setter
    def activity_delay(self, value: float) -> None:
        self.activities.activity_delay = value

    @property
    def activity_item_seconds(self) -> float:
        """Sandbox seconds an activity spends per item (an import row, a contact) while `processing` (default 0)."""
        return self.activities.item_seconds

    @activity_item_seconds.setter
    def activity_item_seconds(self, value: float) -> None:
        self.activities.item_seconds = value

    @property
    def time_scale(self) -> float:
        """Sandbox seconds per real second (default 1): everything on the sandbox clock speeds up together."""
        return self.clock.scale

    @time_scale.setter
    def time_scale(self, value: float) -> None:
        self.clock.scale = value

    @property
    def v2_rate_limit_per_second(self) -> float:
        return self.v2.rate.per_second

    @v2_rate_limit_per_second.setter
    def v2_rate_limit_per_second(self, value: float) -> None:
        self.v2.rate.per_second = value

    @property
    def v2_daily_quota(self) -> int:
        return self.v2.quota.limit

    @v2_daily_quota.setter
    def v2_daily_quota(self, value: int) -> None:
        self.v2.quota.limit = value

    # --- V2 helpers --------------------------------------------------------------------------

    def revoke_v2_token(self, token: str | None = None) -> None:
        """Revoke a V2 access token (default: `v2_access_token`); its next call gets 401."""
        self.v2.revoke_token(token or self.v2_access_token)

    def add_v2_api_key(self, api_key: str | None = None) -> tuple[str, str]:
        """Another V2 app: (api_key, access_token); its limits are counted apart."""
        return self.v2.add_key(api_key)

    def v2_contact_id(self, contact_id: str) -> str:
        """The V2 id (a numeric string) of a contact given by its V3 contact_id."""
        return self.v2.account.contact_v2_id(contact_id)

    def v2_list_id(self, list_id: str) -> str:
        """The V2 id (a numeric string) of a list given by its V3 list_id."""
        return self.v2.account.list_v2_id(list_id)

    def seed_v2_contact(self, body: dict[str, Any], action_by: str = "ACTION_BY_OWNER") -> str:
        """Create a contact by V2's rules from a V2 body (no HTTP, no limits; V2 list ids); its V2 id."""
        try:
            return str(self.v2.account.create_contact(body, action_by)["id"])
        except ApiError as exc:
            raise ValueError(f"seed_v2_contact was rejected: {exc.body}") from None

    def v2_contact(self, v2_id: str) -> dict[str, Any]:
        """A contact as V2 shows it (with `contact_id`), V2-only properties included (`CustomFieldN`, `fax`...)."""
        return self.v2.account.get_contact(v2_id, {"include_contact_id": "true"})

    def v2_quota_used(self, api_key: str | None = None) -> int:
        return self.v2.quota.used_today(api_key or self.v2_api_key)

    # --- OAuth helpers -----------------------------------------------------------------------

    def issue_tokens(self, scope: str = DEFAULT_SCOPE) -> dict[str, Any]:
        """A fresh grant for seeding a secret: {"access_token", "refresh_token", "expires_in", ...}."""
        return self.oauth.issue_tokens(self.client_id, scope)

    def add_client(self, client_id: str | None = None, client_secret: str | None = None) -> tuple[str, str]:
        """Register another app (API key); limits are counted per client."""
        return self.oauth.add_client(client_id, client_secret)

    def approve_device(self, user_code: str) -> None:
        self.oauth.decide_device(user_code, "approve")

    def deny_device(self, user_code: str) -> None:
        self.oauth.decide_device(user_code, "deny")

    def expire_access_tokens(self) -> None:
        """Every access token issued so far is expired from now on (the next API call gets 401)."""
        self.oauth.expire_access_tokens()

    @property
    def token_requests(self) -> list[dict[str, Any]]:
        """Every call of the token endpoint: {at, client_id, grant_type, status, error}."""
        with self.oauth._lock:
            return [dict(r) for r in self.oauth.token_requests]

    @property
    def refresh_count(self) -> int:
        """Successful refresh_token grants so far."""
        return sum(1 for r in self.token_requests if r["grant_type"] == "refresh_token" and r["status"] == 200)

    @property
    def invalid_grant_count(self) -> int:
        return sum(1 for r in self.token_requests if r["error"] == "invalid_grant")

    # --- limits, faults, log -----------------------------------------------------------------

    def inject_faults(
        self, status: int = 503, count: int = 1, path_prefix: str = "/v3/contacts", method: str | None = None
    ) -> None:
        """Answer the next `count` requests whose path starts with `path_prefix` with `status` and a real body."""
        self._faults.add(status, count, path_prefix, method)

    def clear_faults(self) -> None:
        self._faults.clear()

    def reset_rate_limits(self) -> None:
        """Forget the per-second windows and today's quota counts (V3 and V2 APIs and the token endpoint)."""
        self._rate.reset()
        self._quota.reset()
        self.v2.rate.reset()
        self.v2.quota.reset()
        self.oauth.reset_rate_limit()

    def quota_used(self, client_id: str | None = None) -> int:
        return self._quota.used_today(client_id or self.client_id)

    @property
    def request_log(self) -> list[dict[str, Any]]:
        """Every request served: {method, path, query, status, client_id (V3 client or V2 API key), at}."""
        with self._log_lock:
            return [dict(r) for r in self._log]

    def clear_request_log(self) -> None:
        with self._log_lock:
            self._log.clear()

    # --- account helpers ---------------------------------------------------------------------

    def seed_list(self, name: str) -> str:
        return self.store.ensure_list(name)

    def seed_custom_field(self, label: str) -> str:
        return self.store.ensure_custom_field(label)

    def seed_tag(self, name: str) -> str:
        return self.store.ensure_tag(name)

    def seed_contact(self, email: str, **fields: Any) -> str:
        """Create a contact directly (no HTTP, no limits). Fields as in the V3 resource, plus conveniences:
        `permission_to_send`, `lists=[names]`, `tags=[names]`, `custom_fields={label: value}` (or the V3 list),
        `deleted=True`, `opt_out_source`/`opt_out_reason` for unsubscribed contacts, `v2={...}` for the properties
        only V2 has (`prefix_name`, `middle_name`, `fax`, `source`, `custom_fields` named CustomField1..15)."""
        fields = dict(fields)
        v2_extras = self.v2.account.extras(email, fields.pop("v2")) if "v2" in fields else None
        permission = fields.pop("permission_to_send", "implicit")
        opt_out_source = fields.pop("opt_out_source", "Contact")
        opt_out_reason = fields.pop("opt_out_reason", None)
        deleted = fields.pop("deleted", False)
        list_ids = list(fields.pop("list_memberships", [])) + [self.seed_list(n) for n in fields.pop("lists", [])]
        tag_ids = list(fields.pop("taggings", [])) + [self.seed_tag(n) for n in fields.pop("tags", [])]
        custom = fields.pop("custom_fields", [])
        if isinstance(custom, dict):
            custom = [{"custom_field_id": self.seed_custom_field(k), "value": v} for k, v in custom.items()]
        body: dict[str, Any] = {
            "email_address": {
                "address": email,
                "permission_to_send": "implicit" if permission == "unsubscribed" else permission,
            },
            "create_source": fields.pop("create_source", "Account"),
            **fields,
        }
        for key, value in (("list_memberships", list_ids), ("taggings", tag_ids), ("custom_fields", custom)):
            if value:
                body[key] = value
        try:
            contact_id = str(self.store.create_contact(body)["contact_id"])
        except ApiError as exc:
            raise ValueError(f"seed_contact({email!r}) was rejected: {exc.body}") from None
        if permission == "unsubscribed":
            self.store.unsubscribe(contact_id, opt_out_source, opt_out_reason)
        if deleted:
            self.store.delete_contact(contact_id)
        if v2_extras is not None:
            self.v2.account.set_extras(contact_id, v2_extras)
        return contact_id

    def delete_contact(self, contact_id: str) -> None:
        """Soft-delete, as the Constant Contact UI does."""
        self.store.delete_contact(contact_id)

    def unsubscribe_contact(self, contact_id: str, source: str = "Contact", reason: str | None = None) -> None:
        """Unsubscribe as if the contact (source="Contact") or the account (source="Account") did it."""
        self.store.unsubscribe(contact_id, source, reason)

    def contact_by_email(self, email: str) -> dict[str, Any] | None:
        """The full stored record (deleted and unsubscribed too), all subresources, in V3 resource shape."""
        self.activities.process_due()
        with self.store.lock:
            contact = self.store.find_by_email(email)
            return self.store.render_contact(contact, SUBRESOURCES) if contact else None

    def contact(self, contact_id: str) -> dict[str, Any] | None:
        self.activities.process_due()
        with self.store.lock:
            contact = self.store.contacts.get(contact_id)
            return self.store.render_contact(contact, SUBRESOURCES) if contact else None

    def all_contacts(self) -> list[dict[str, Any]]:
        self.activities.process_due()
        with self.store.lock:
            return [self.store.render_contact(c, SUBRESOURCES) for c in self.store.contacts.values()]

    def permission_history(self, contact_id: str) -> list[dict[str, Any]]:
        """Every permission_to_send change of a contact: {at, from, to, via, source}, creation first."""
        with self.store.lock:
            return [dict(h) for h in self.store.contact(contact_id).permission_history]

    def resubscribe_request(self, contact_id: str) -> dict[str, Any] | None:
        """The pending one-time resubscribe email recorded by PUT /contacts/resubscribe/{id}, if any."""
        with self.store.lock:
            request = self.store.contact(contact_id).resubscribe_request
            return dict(request) if request else None

    def confirm_resubscribe(self, contact_id: str) -> None:
        """Simulate the contact confirming the resubscribe email."""
        self.store.confirm_resubscribe(contact_id)

    def fail_next_activity(self, after_items: int = 0) -> None:
        """The next bulk activity posted processes `after_items` items, then ends `failed`."""
        self.activities.fail_next(after_items)

    def queued_activities(self) -> int:
        """Activities not finished yet (the API refuses new ones past 1,000)."""
        return self.activities.queued()

    def list_id(self, name: str) -> str | None:
        with self.store.lock:
            return next((x.list_id for x in self.store.lists.values() if x.name == name), None)

    def process_activities(self) -> None:
        """Apply the bulk activity items that are due by the sandbox clock (also done at the start of every request)."""
        self.activities.process_due()

    # --- request handling --------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> Response:
        """Answer one HTTP request (the server thread calls this; it is also usable without a socket)."""
        parts = urlsplit(target)
        path = parts.path.rstrip("/") or "/"
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        if path.startswith(OAUTH_PREFIX) or path == "/activate":
            response = self._handle_oauth(method, path, query, headers, raw)
        elif path.startswith("/v3/"):
            response = self._handle_api(method, path, query, headers, raw)
        elif path.startswith("/v2/"):
            status, body, api_key = self.v2.handle(method, path, query, headers, raw)
            response = Response(status, body, client_id=api_key)
        else:
            response = Response(404, api_error(404).body)
        with self._log_lock:
            self._log.append(
                {
                    "method": method,
                    "path": path,
                    "query": parts.query,
                    "status": response.status,
                    "client_id": response.client_id,
                    "at": iso(self.clock.time()),
                }
            )
        return response

    def _handle_oauth(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], raw: bytes
    ) -> Response:
        fault = self._faults.take(method, path)
        if fault is not None:
            return Response(fault, {"error": "temporarily_unavailable", "error_description": f"Injected {fault}."})
        route = path.removeprefix(OAUTH_PREFIX)
        if route == "/authorize" and method == "GET":
            status, extra, body = self.oauth.authorize(query)
            return Response(status, body, extra)
        if route == "/activate" or path == "/activate":
            return self._activate_page(query)
        if route in ("/token", "/device/authorize") and method == "POST":
            if raw and _media_type(headers) != "application/x-www-form-urlencoded":
                return Response(
                    400,
                    {
                        "error": "invalid_request",
                        "error_description": "Content-Type must be application/x-www-form-urlencoded.",
                    },
                )
            params = query | dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
            if route == "/token":
                status, body, client = self.oauth.token(headers, params)
                return Response(status, body, {"Cache-Control": "no-store"}, client_id=client)
            status, body = self.oauth.device_authorize(headers, params)
            return Response(status, body)
        if route in ("/token", "/device/authorize", "/authorize"):
            return Response(405, {"error": "invalid_request", "error_description": "Method not allowed."})
        return Response(404, {"error": "not_found", "error_description": "Unknown OAuth endpoint."})

    def _activate_page(self, query: dict[str, str]) -> Response:
        """The verification page a user visits in the device flow; it applies `oauth_decision`."""
        html = {"Content-Type": "text/html; charset=utf-8"}
        code = query.get("user_code")
        if not code:
            return Response(200, None, html, raw=b"<h1>Enter the code</h1><form><input name='user_code'></form>")
        try:
            self.oauth.decide_device(code, self.oauth.oauth_decision)
        except KeyError:
            return Response(404, None, html, raw=b"<h1>Unknown or already used code</h1>")
        word = "approved" if self.oauth.oauth_decision == "approve" else "denied"
        return Response(200, None, html, raw=f"<h1>Device {word}</h1>".encode())

    def _handle_api(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], raw: bytes
    ) -> Response:
        token = bearer_token(headers)
        record = self.oauth.check_access_token(token) if token else None
        if record is None:
            return Response(401, dict(UNAUTHORIZED_BODY))
        client_id = record.client_id
        if "contact_data" not in record.scope.split():
            return Response(
                403, api_error(403, "The access token lacks the contact_data scope.").body, client_id=client_id
            )
        refusal = limit_refusal(self._rate, self._quota, client_id)
        if refusal is not None:
            return Response(429, dict(QUOTA_BODY if refusal == "quota" else THROTTLED_BODY), client_id=client_id)
        self.activities.process_due()
        fault = self._faults.take(method, path)
        if fault is not None:
            return Response(fault, self._fault_body(fault, method, path), client_id=client_id)
        try:
            status, body = self._route(method, path, query, headers, raw)
        except ApiError as exc:
            status, body = exc.status, exc.body
        return Response(status, body, client_id=client_id)

    @staticmethod
    def _match(method: str, path: str) -> tuple[re.Match[str], str]:
        """The route of a request and its match; ApiError 404/405 when there is none."""
        return match_route(_ROUTES, method, path, api_error)

    def _fault_body(self, status: int, method: str, path: str) -> Any:
        """An injected fault answers with what that endpoint really sends for the status."""
        if status == 409:
            try:
                _match, name = self._match(method, path)
            except ApiError:
                name = ""
            if name == "sign_up_form":
                return concurrent_write().body
        return status_body(status)

    def _route(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], raw: bytes
    ) -> tuple[int, Any]:
        match, name = self._match(method, path)
        check_query(name, query)
        resource_id = match.groupdict().get("id", "")
        body: Any = None
        if method in ("POST", "PUT"):
            if _media_type(headers) != "application/json":
                raise api_error(415)
            if not raw.strip():
                raise api_error(400, "The request body is required.")
            try:
                body = json.loads(raw, parse_constant=_reject_constant)
            except (ValueError, UnicodeDecodeError) as exc:
                raise api_error(400, f"The request body is not valid JSON: {exc}") from None
        store, activities = self.store, self.activities
        operations: dict[str, Callable[[], tuple[int, Any]]] = {
            "list_contacts": lambda: (200, store.list_contacts(query)),
            "create_contact": lambda: (201, store.create_contact(body)),
            "sign_up_form": lambda: store.sign_up_form(body),
            "resubscribe": lambda: then(store.resubscribe, resource_id, body, answer=(200, None)),
            "get_contact": lambda: (200, store.get_contact(resource_id, query)),
            "put_contact": lambda: (200, store.put_contact(resource_id, body)),
            "delete_contact": lambda: then(store.delete_contact, resource_id, answer=(204, None)),
            "get_lists": lambda: (200, store.get_lists(query)),
            "create_list": lambda: (201, store.create_list(body)),
            "get_list": lambda: (200, store.get_list(resource_id, query)),
            "contact_id_xrefs": lambda: (200, self.v2.account.xrefs("contact", query)),
            "list_id_xrefs": lambda: (200, self.v2.account.xrefs("list", query)),
            "get_custom_fields": lambda: (200, store.get_custom_fields(query)),
            "create_custom_field": lambda: (201, store.create_custom_field(body)),
            "get_tags": lambda: (200, store.get_tags(query)),
            "create_tag": lambda: (201, store.create_tag(body)),
            "json_import": lambda: (201, activities.json_import(body, raw)),
            "add_list_memberships": lambda: (201, activities.add_list_memberships(body)),
            "taggings_add": lambda: (201, activities.taggings_add(body)),
            "list_activities": lambda: (200, activities.list_activities(query)),
            "get_activity": lambda: (200, activities.get_activity(resource_id)),
        }
        lock_key, blocking = self._write_lock_key(name, resource_id, body)
        if lock_key is None:
            self._sleep_latency()
            return operations[name]()
        lock = self._contact_lock(lock_key)
        if not lock.acquire(blocking=blocking):
            raise concurrent_write()
        try:
            started = time.monotonic()
            self._sleep_latency()
            answer = operations[name]()
            if name == "sign_up_form":
                time.sleep(max(0.0, self.sign_up_form_duration - (time.monotonic() - started)))
            return answer
        finally:
            lock.release()

    def _write_lock_key(self, name: str, resource_id: str, body: Any) -> tuple[str | None, bool]:
        """Writes to one contact are serialized; sign_up_form answers 409 instead of waiting (its documented 409)."""
        if name == "sign_up_form":
            email = body.get("email_address") if isinstance(body, dict) else None
            return (email.strip().lower(), False) if isinstance(email, str) and email.strip() else (None, False)
        if name == "create_contact":
            email = body.get("email_address") if isinstance(body, dict) else None
            address = email.get("address") if isinstance(email, dict) else None
            return (address.strip().lower(), True) if isinstance(address, str) and address.strip() else (None, True)
        if name in ("put_contact", "delete_contact", "resubscribe"):
            return self.store.email_of(resource_id) or resource_id, True
        return None, True

    def _contact_lock(self, key: str) -> threading.Lock:
        with self._locks_lock:
            return self._contact_locks.setdefault(key, threading.Lock())

    def _sleep_latency(self) -> None:
        if self.latency > 0:
            time.sleep(self.latency)
