"""The sandbox authorization server: /oauth2/default/v1/{authorize,token,device/authorize}, as Constant Contact's.

Refresh tokens are rotating (each refresh returns a new one and invalidates every earlier one of the same grant) or
long-lived (the same value comes back and keeps working); both die after 180 days unused. Refresh tokens are only
issued when the scope includes `offline_access`. The token endpoint allows 1 request/s per client.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from local.cc_sandbox.clock import SandboxClock, iso
from local.cc_sandbox.errors import OAuthError
from local.cc_sandbox.limits import SlidingWindowLimiter

REFRESH_IDLE_SECONDS = 180 * 86400
AUTH_CODE_TTL = 300
DEVICE_CODE_TTL = 600
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
KNOWN_SCOPES = frozenset(
    {"contact_data", "campaign_data", "account_read", "account_update", "billing_data", "offline_access", "openid"}
)
DEFAULT_SCOPE = "contact_data offline_access"
_USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"


@dataclass
class AccessToken:
    client_id: str
    scope: str
    expires_at: float
    grant_id: str


@dataclass
class RefreshToken:
    client_id: str
    scope: str
    grant_id: str
    last_used: float
    valid: bool
    public: bool


@dataclass
class AuthCode:
    client_id: str
    redirect_uri: str
    scope: str
    challenge: str | None
    expires_at: float
    used: bool = False
    grant_id: str | None = None


@dataclass
class DeviceGrant:
    device_code: str
    user_code: str
    client_id: str
    scope: str
    expires_at: float
    interval: int
    status: str = "pending"  # pending | approved | denied | consumed
    last_poll: float | None = None


def bearer_token(headers: dict[str, str]) -> str:
    """The token of an `Authorization: Bearer <token>` header (lower-cased header names), else ""."""
    auth = headers.get("authorization", "")
    return auth[7:].strip() if auth[:7].lower() == "bearer " else ""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def pkce_challenge(verifier: str) -> str:
    """S256 code challenge of a PKCE verifier (RFC 7636)."""
    return _b64url(hashlib.sha256(verifier.encode()).digest())


def _with_params(uri: str, params: dict[str, str]) -> str:
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


class OAuthServer:
    """Clients, grants and tokens of the sandbox's authorization server."""

    def __init__(
        self,
        clock: SandboxClock,
        *,
        access_token_ttl: float,
        refresh_token_type: str,
        token_rate_limit_per_second: float,
        device_poll_interval: int,
    ) -> None:
        if refresh_token_type not in ("rotating", "long_lived"):
            raise ValueError("refresh_token_type must be 'rotating' or 'long_lived'")
        self.clock = clock
        self.access_token_ttl = access_token_ttl
        self.refresh_token_type = refresh_token_type
        self.device_poll_interval = device_poll_interval
        self.oauth_decision = "approve"
        self.auto_approve_devices = False
        self.redirect_uris: set[str] = set()
        self.root_url = ""
        self._lock = threading.RLock()
        self._limiter = SlidingWindowLimiter(clock, token_rate_limit_per_second)
        self._signing_key = secrets.token_bytes(32)
        self.clients: dict[str, str] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.codes: dict[str, AuthCode] = {}
        self.devices: dict[str, DeviceGrant] = {}
        self.token_requests: list[dict[str, Any]] = []

    # --- clients and tokens ------------------------------------------------------------------

    def add_client(self, client_id: str | None = None, client_secret: str | None = None) -> tuple[str, str]:
        with self._lock:
            cid = client_id or str(uuid.uuid4())
            self.clients[cid] = client_secret or secrets.token_urlsafe(24)
            return cid, self.clients[cid]

    def _access_token(self, client_id: str, scope: str, grant_id: str) -> str:
        now = self.clock.time()
        header = {"alg": "HS256", "typ": "JWT", "kid": "cc-sandbox"}
        claims = {
            "ver": 1,
            "jti": str(uuid.uuid4()),
            "iss": f"{self.root_url}/oauth2/default",
            "aud": "https://api.cc.email/v3",
            "iat": int(now),
            "exp": int(now + self.access_token_ttl),
            "cid": client_id,
            "sub": "sandbox-account",
            "scp": scope.split(),
        }
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = _b64url(hmac.new(self._signing_key, signing_input.encode(), hashlib.sha256).digest())
        token = f"{signing_input}.{signature}"
        self.access_tokens[token] = AccessToken(client_id, scope, now + self.access_token_ttl, grant_id)
        return token

    def _grant_tokens(
        self, client_id: str, scope: str, *, public: bool, grant_id: str | None = None, new_refresh: bool = True
    ) -> dict[str, Any]:
        grant = grant_id or str(uuid.uuid4())
        out: dict[str, Any] = {
            "token_type": "Bearer",
            "expires_in": int(self.access_token_ttl),
            "access_token": self._access_token(client_id, scope, grant),
            "scope": scope,
        }
        if new_refresh and "offline_access" in scope.split():
            refresh = secrets.token_urlsafe(32)
            self.refresh_tokens[refresh] = RefreshToken(client_id, scope, grant, self.clock.time(), True, public)
            out["refresh_token"] = refresh
        return out

    def issue_tokens(self, client_id: str, scope: str = DEFAULT_SCOPE) -> dict[str, Any]:
        """A fresh grant, as if the account owner had just authorized the app (for seeding a secret)."""
        with self._lock:
            return self._grant_tokens(client_id, scope, public=False)

    def check_access_token(self, token: str) -> AccessToken | None:
        """The token's record when it is known and unexpired, else None."""
        with self._lock:
            record = self.access_tokens.get(token)
            if record is None or record.expires_at <= self.clock.time():
                return None
            return record

    def expire_access_tokens(self) -> None:
        with self._lock:
            past = self.clock.time() - 1
            for record in self.access_tokens.values():
                record.expires_at = min(record.expires_at, past)

    def _revoke_grant(self, grant_id: str) -> None:
        for rt in self.refresh_tokens.values():
            if rt.grant_id == grant_id:
                rt.valid = False
        for at in self.access_tokens.values():
            if at.grant_id == grant_id:
                at.expires_at = min(at.expires_at, self.clock.time() - 1)

    def reset_rate_limit(self) -> None:
        self._limiter.reset()

    # --- token endpoint ----------------------------------------------------------------------

    def _client_auth(self, headers: dict[str, str], params: dict[str, str]) -> tuple[str, bool]:
        """(client_id, authenticated_with_secret). HTTP Basic for confidential clients, client_id for public ones."""
        if "client_secret" in params:
            raise OAuthError(401, "invalid_client", "Send client credentials with HTTP Basic authentication.")
        auth = headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            try:
                client_id, _, secret = base64.b64decode(auth[6:].strip()).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                raise OAuthError(401, "invalid_client", "Client authentication failed.") from None
            expected = self.clients.get(client_id)
            if expected is None or not hmac.compare_digest(expected, secret):
                raise OAuthError(401, "invalid_client", "Client authentication failed.")
            return client_id, True
        client_id = params.get("client_id", "")
        if client_id not in self.clients:
            raise OAuthError(401, "invalid_client", "Client authentication failed.")
        return client_id, False

    def token(self, headers: dict[str, str], params: dict[str, str]) -> tuple[int, dict[str, Any], str | None]:
        """POST /oauth2/default/v1/token -> (status, JSON body, client_id); every call is logged in token_requests."""
        grant_type = params.get("grant_type", "")
        client_id: str | None = None
        try:
            with self._lock:
                client_id, authenticated = self._client_auth(headers, params)
                if not self._limiter.allow(client_id):
                    raise OAuthError(
                        429, "too_many_requests", "The token endpoint allows 1 request per second per client."
                    )
                if grant_type == "refresh_token":
                    result = self._refresh(client_id, authenticated, params)
                elif grant_type == "authorization_code":
                    result = self._exchange_code(client_id, authenticated, params)
                elif grant_type == DEVICE_GRANT:
                    result = self._poll_device(client_id, authenticated, params)
                else:
                    raise OAuthError(400, "unsupported_grant_type", f"grant_type {grant_type!r} is not supported.")
            self._log(client_id, grant_type, 200, None)
            return 200, result, client_id
        except OAuthError as exc:
            self._log(client_id, grant_type, exc.status, exc.body["error"])
            return exc.status, exc.body, client_id

    def _log(self, client_id: str | None, grant_type: str, status: int, error: str | None) -> None:
        with self._lock:
            self.token_requests.append(
                {
                    "at": iso(self.clock.time()),
                    "client_id": client_id,
                    "grant_type": grant_type,
                    "status": status,
                    "error": error,
                }
            )

    def _refresh(self, client_id: str, authenticated: bool, params: dict[str, str]) -> dict[str, Any]:
        value = params.get("refresh_token", "")
        record = self.refresh_tokens.get(value)
        now = self.clock.time()
        if record is None or not record.valid or record.client_id != client_id:
            raise OAuthError(400, "invalid_grant", "The refresh token is invalid or expired.")
        if now - record.last_used > REFRESH_IDLE_SECONDS:
            record.valid = False
            raise OAuthError(400, "invalid_grant", "The refresh token is invalid or expired.")
        if not authenticated and not record.public:
            raise OAuthError(401, "invalid_client", "Client authentication failed.")
        if "scope" in params and not set(params["scope"].split()) <= set(record.scope.split()):
            raise OAuthError(400, "invalid_scope", "The requested scope exceeds the scope originally granted.")
        if self.refresh_token_type == "long_lived":
            record.last_used = now
            out = self._grant_tokens(
                client_id, record.scope, public=record.public, grant_id=record.grant_id, new_refresh=False
            )
            return out | {"refresh_token": value}
        for rt in self.refresh_tokens.values():
            if rt.grant_id == record.grant_id:
                rt.valid = False
        return self._grant_tokens(client_id, record.scope, public=record.public, grant_id=record.grant_id)

    def _exchange_code(self, client_id: str, authenticated: bool, params: dict[str, str]) -> dict[str, Any]:
        record = self.codes.get(params.get("code", ""))
        if record is None or record.client_id != client_id:
            raise OAuthError(400, "invalid_grant", "The authorization code is invalid or has expired.")
        if record.used:
            if record.grant_id:
                self._revoke_grant(record.grant_id)
            raise OAuthError(400, "invalid_grant", "The authorization code has already been used.")
        if record.expires_at <= self.clock.time():
            raise OAuthError(400, "invalid_grant", "The authorization code is invalid or has expired.")
        if params.get("redirect_uri") != record.redirect_uri:
            raise OAuthError(400, "invalid_grant", "The redirect_uri does not match the authorization request.")
        if record.challenge is not None:
            verifier = params.get("code_verifier")
            if not verifier:
                raise OAuthError(400, "invalid_request", "PKCE verification failed: code_verifier is required.")
            if not hmac.compare_digest(pkce_challenge(verifier), record.challenge):
                raise OAuthError(400, "invalid_grant", "PKCE verification failed: code_verifier does not match.")
        elif not authenticated:
            raise OAuthError(401, "invalid_client", "Client authentication failed.")
        record.used = True
        tokens = self._grant_tokens(client_id, record.scope, public=not authenticated)
        record.grant_id = self.access_tokens[tokens["access_token"]].grant_id
        return tokens

    def _poll_device(self, client_id: str, authenticated: bool, params: dict[str, str]) -> dict[str, Any]:
        grant = self.devices.get(params.get("device_code", ""))
        now = self.clock.time()
        if grant is None or grant.client_id != client_id or grant.status == "consumed":
            raise OAuthError(400, "invalid_grant", "The device code is invalid.")
        if grant.expires_at <= now:
            raise OAuthError(400, "expired_token", "The device code has expired; start the device flow again.")
        if grant.status == "denied":
            raise OAuthError(400, "access_denied", "The user denied the authorization request.")
        too_fast = grant.last_poll is not None and now - grant.last_poll < grant.interval
        grant.last_poll = now
        if too_fast:
            grant.interval += 5
            raise OAuthError(400, "slow_down", f"Polling too fast; wait at least {grant.interval} s between polls.")
        if grant.status == "pending":
            raise OAuthError(400, "authorization_pending", "The user has not yet approved the request.")
        grant.status = "consumed"
        return self._grant_tokens(client_id, grant.scope, public=not authenticated)

    # --- authorize and device endpoints ----------------------------------------------------------

    def _redirect_allowed(self, uri: str) -> bool:
        if uri in self.redirect_uris:
            return True
        parts = urlsplit(uri)
        return parts.scheme in ("http", "https") and parts.hostname in ("127.0.0.1", "localhost")

    @staticmethod
    def _scope_problem(scope: str) -> str | None:
        scopes = scope.split()
        if not scopes:
            return "scope is required."
        unknown = [s for s in scopes if s not in KNOWN_SCOPES]
        return f"Unknown scope(s): {' '.join(unknown)}." if unknown else None

    def authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str], dict[str, Any] | None]:
        """GET /oauth2/default/v1/authorize -> 302 to redirect_uri with code+state, or error=... (or 400)."""
        with self._lock:
            client_id = query.get("client_id", "")
            redirect_uri = query.get("redirect_uri", "")
            if client_id not in self.clients:
                return 400, {}, {"error": "invalid_client", "error_description": "Unknown client_id."}
            if not redirect_uri or not self._redirect_allowed(redirect_uri):
                return 400, {}, {"error": "invalid_request", "error_description": "redirect_uri is not registered."}
            state = {"state": query["state"]} if "state" in query else {}

            def fail(error: str, description: str) -> tuple[int, dict[str, str], None]:
                target = _with_params(redirect_uri, {"error": error, "error_description": description} | state)
                return 302, {"Location": target}, None

            if query.get("response_type") != "code":
                return fail("unsupported_response_type", "response_type must be code.")
            scope = query.get("scope", "").replace("+", " ")
            problem = self._scope_problem(scope)
            if problem:
                return fail("invalid_scope", problem)
            challenge = query.get("code_challenge")
            if challenge is not None:
                if query.get("code_challenge_method") != "S256":
                    return fail("invalid_request", "code_challenge_method must be S256.")
                if not 43 <= len(challenge) <= 128:
                    return fail("invalid_request", "code_challenge must be 43 to 128 characters.")
            if self.oauth_decision != "approve":
                return fail("access_denied", "The resource owner or authorization server denied the request.")
            code = secrets.token_urlsafe(24)
            self.codes[code] = AuthCode(
                client_id, redirect_uri, " ".join(scope.split()), challenge, self.clock.time() + AUTH_CODE_TTL
            )
            return 302, {"Location": _with_params(redirect_uri, {"code": code} | state)}, None

    def device_authorize(self, headers: dict[str, str], params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """POST /oauth2/default/v1/device/authorize (RFC 8628)."""
        with self._lock:
            try:
                client_id, _ = self._client_auth(headers, params)
            except OAuthError as exc:
                return exc.status, exc.body
            scope = params.get("scope", "")
            problem = self._scope_problem(scope)
            if problem:
                return 400, {"error": "invalid_scope", "error_description": problem}
            user_code = "".join(secrets.choice(_USER_CODE_ALPHABET) for _ in range(8))
            user_code = f"{user_code[:4]}-{user_code[4:]}"
            grant = DeviceGrant(
                device_code=secrets.token_urlsafe(32),
                user_code=user_code,
                client_id=client_id,
                scope=" ".join(scope.split()),
                expires_at=self.clock.time() + DEVICE_CODE_TTL,
                interval=self.device_poll_interval,
                status="approved" if self.auto_approve_devices else "pending",
            )
            self.devices[grant.device_code] = grant
            verification_uri = f"{self.root_url}/activate"
            return 200, {
                "device_code": grant.device_code,
                "user_code": user_code,
                "verification_uri": verification_uri,
                "verification_uri_complete": f"{verification_uri}?user_code={user_code}",
                "expires_in": DEVICE_CODE_TTL,
                "interval": grant.interval,
            }

    def decide_device(self, user_code: str, decision: str) -> None:
        """The user approves or denies the device request identified by user_code."""
        with self._lock:
            for grant in self.devices.values():
                if grant.user_code == user_code.upper() and grant.status == "pending":
                    grant.status = "approved" if decision == "approve" else "denied"
                    return
            raise KeyError(f"no pending device request with user code {user_code}")
