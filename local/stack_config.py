"""What the local stack reads from its environment, validated before anything starts (local/README.md).

- ROUTES_FILE: the routes file (default: the repository's routes.yaml); relative paths are from the current
  directory. It is validated at start; a bad file stops the stack with the route and key named.
- Webhook secrets, per route, first found wins:
    1. LOCAL_WEBHOOK_SECRETS: a JSON object {route name (or the route's secret key): secret}, given inline
       (the value starts with "{") or as the path of a JSON file;
    2. local/demo_secrets.json (the demo routes of routes.yaml, the secrets events/ are signed with);
    3. the local default LOCAL_DEFAULT_WEBHOOK_SECRET ("local-dev-secret"); Standard Webhooks routes need a
       whsec_ secret, so theirs is LOCAL_DEFAULT_STANDARD_WEBHOOKS_SECRET (whsec_ + base64 of the same text).
  Each route's secret is stored where the route says it lives (secret id + key) in moto's Secrets Manager.
- Constant Contact: the embedded sandbox, or, when CC_API_BASE_URL is set, that server with a secret built from
  CC_CLIENT_ID / CC_CLIENT_SECRET / CC_ACCESS_TOKEN / CC_REFRESH_TOKEN. CC_TOKEN_URL defaults to the same
  origin's /oauth2/default/v1/token (Constant Contact's own token URL when the API is api.cc.email).
  Without CC_ACCESS_TOKEN the first API call is answered 401 and the stack refreshes with CC_REFRESH_TOKEN.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from signup_relay.config import DEFAULT_TOKEN_URL
from signup_relay.errors import ConfigError
from signup_relay.routes import Routes, load_routes

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ROUTES_FILE = ROOT / "routes.yaml"
DEMO_SECRETS_FILE = ROOT / "local" / "demo_secrets.json"
WEBHOOK_SECRETS_ENV = "LOCAL_WEBHOOK_SECRETS"
LOCAL_DEFAULT_WEBHOOK_SECRET = "local-dev-secret"
LOCAL_DEFAULT_STANDARD_WEBHOOKS_SECRET = "whsec_" + base64.b64encode(LOCAL_DEFAULT_WEBHOOK_SECRET.encode()).decode()
TOKEN_PATH = "/oauth2/default/v1/token"
# Stored as the access token when none is given: the server answers 401 and the engine refreshes.
NO_ACCESS_TOKEN = "local-stack-no-access-token"

SOURCE_OVERRIDE = WEBHOOK_SECRETS_ENV
SOURCE_DEMO = "local/demo_secrets.json"
SOURCE_DEFAULT = "local default"


class LocalConfigError(ValueError):
    """The local stack cannot start with this environment; the message says what to change."""


@dataclass(frozen=True)
class RouteSecret:
    route: str
    secret_id: str
    key: str
    value: str
    source: str  # SOURCE_OVERRIDE | SOURCE_DEMO | SOURCE_DEFAULT

    def describe(self) -> str:
        """Where the secret came from; a real secret's value is never shown, only the documented defaults."""
        if self.source == SOURCE_DEFAULT:
            return f"local default secret {self.value!r}"
        return f"secret from {self.source}"


@dataclass(frozen=True)
class ConstantContactEnv:
    """The external Constant Contact server the stack talks to instead of the embedded sandbox."""

    api_base_url: str
    token_url: str
    client_id: str
    client_secret: str
    access_token: str
    refresh_token: str
    notes: tuple[str, ...] = field(default_factory=tuple)


def routes_file(env: Mapping[str, str]) -> Path:
    raw = env.get("ROUTES_FILE", "").strip()
    return Path(raw).expanduser().resolve() if raw else DEFAULT_ROUTES_FILE


def load_local_routes(path: Path) -> Routes:
    """The validated routes file, or LocalConfigError naming the file, route and key."""
    if not path.is_file():
        raise LocalConfigError(f"ROUTES_FILE {str(path)!r} does not exist or is not a file")
    try:
        return load_routes(path)
    except ConfigError as error:
        raise LocalConfigError(str(error)) from None


def _secret_map(data: object, origin: str) -> dict[str, str]:
    if not isinstance(data, dict):
        raise LocalConfigError(f"{origin} must be a JSON object {{route name: secret}}")
    values: dict[str, str] = {}
    for key, value in data.items():
        if str(key).startswith("_"):
            continue  # comments
        if not isinstance(value, str) or not value:
            raise LocalConfigError(f"{origin}: the secret of {key!r} must be a non-empty string")
        values[str(key)] = value
    return values


def secret_overrides(env: Mapping[str, str]) -> dict[str, str]:
    """LOCAL_WEBHOOK_SECRETS as {route name or secret key: secret}; {} when unset."""
    raw = env.get(WEBHOOK_SECRETS_ENV, "").strip()
    if not raw:
        return {}
    if raw[0] in "{[":  # inline JSON; anything else is a file path
        origin, text = f"{WEBHOOK_SECRETS_ENV} (inline JSON)", raw
    else:
        path = Path(raw).expanduser()
        origin = f"{WEBHOOK_SECRETS_ENV} file {str(path)!r}"
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise LocalConfigError(f"cannot read {origin}: {error.strerror or error}") from None
    try:
        data = json.loads(text)
    except ValueError as error:
        raise LocalConfigError(f"{origin} is not valid JSON: {error}") from None
    return _secret_map(data, origin)


def demo_secrets(path: Path = DEMO_SECRETS_FILE) -> dict[str, str]:
    return _secret_map(json.loads(path.read_text(encoding="utf-8")), str(path))


def route_secrets(routes: Routes, overrides: Mapping[str, str], demo: Mapping[str, str]) -> list[RouteSecret]:
    """Every route's webhook secret and where it came from (see the module docstring for the order)."""
    found = []
    for name, route in routes.routes.items():
        ref = route.secret
        key = ref.key or name
        if name in overrides or key in overrides:
            value, source = overrides.get(name) or overrides[key], SOURCE_OVERRIDE
        elif name in demo:
            value, source = demo[name], SOURCE_DEMO
        elif route.source == "standard_webhooks":
            value, source = LOCAL_DEFAULT_STANDARD_WEBHOOKS_SECRET, SOURCE_DEFAULT
        else:
            value, source = LOCAL_DEFAULT_WEBHOOK_SECRET, SOURCE_DEFAULT
        found.append(RouteSecret(route=name, secret_id=ref.secret_id, key=key, value=value, source=source))
    return found


def secrets_by_id(secrets: list[RouteSecret]) -> dict[str, dict[str, str]]:
    """The JSON secrets to store: {secret id: {key: secret}}; two routes sharing a key must agree on it."""
    stored: dict[str, dict[str, str]] = {}
    for secret in secrets:
        values = stored.setdefault(secret.secret_id, {})
        if values.get(secret.key, secret.value) != secret.value:
            raise LocalConfigError(
                f"routes sharing secret {secret.secret_id!r} key {secret.key!r} were given different secrets "
                f"(route {secret.route!r}); give them one value in {WEBHOOK_SECRETS_ENV}"
            )
        values[secret.key] = secret.value
    return stored


def unused_overrides(routes: Routes, overrides: Mapping[str, str]) -> list[str]:
    """Keys of LOCAL_WEBHOOK_SECRETS that name no route and no route's secret key (probably a typo)."""
    known = set(routes.routes) | {route.secret.key for route in routes.routes.values()}
    return sorted(set(overrides) - known)


def default_token_url(api_base_url: str) -> str:
    parts = urlsplit(api_base_url)
    if parts.hostname == urlsplit("https://api.cc.email").hostname:
        return DEFAULT_TOKEN_URL
    return f"{parts.scheme}://{parts.netloc}{TOKEN_PATH}"


def constant_contact_env(env: Mapping[str, str]) -> ConstantContactEnv | None:
    """The external server's settings when CC_API_BASE_URL is set (None = the embedded sandbox)."""
    base_url = env.get("CC_API_BASE_URL", "").strip().rstrip("/")
    if not base_url:
        return None
    if urlsplit(base_url).scheme not in ("http", "https") or not urlsplit(base_url).netloc:
        raise LocalConfigError(f"CC_API_BASE_URL must be an http(s) URL, got {base_url!r}")
    notes = []
    token_url = env.get("CC_TOKEN_URL", "").strip()
    if not token_url:
        token_url = default_token_url(base_url)
        notes.append(f"CC_TOKEN_URL not set: using {token_url}")
    values = {name: env.get(name, "").strip() for name in ("CC_CLIENT_ID", "CC_CLIENT_SECRET")}
    access_token = env.get("CC_ACCESS_TOKEN", "").strip()
    refresh_token = env.get("CC_REFRESH_TOKEN", "").strip()
    if not access_token and not refresh_token:
        raise LocalConfigError("CC_API_BASE_URL is set: give CC_ACCESS_TOKEN and/or CC_REFRESH_TOKEN")
    missing = [name for name in ("CC_CLIENT_ID", "CC_CLIENT_SECRET") if not values[name]]
    if not access_token:
        if missing:
            raise LocalConfigError(f"without CC_ACCESS_TOKEN the stack must refresh: set {' and '.join(missing)}")
        notes.append("CC_ACCESS_TOKEN not set: the first call refreshes with CC_REFRESH_TOKEN")
    elif not refresh_token or missing:
        notes.append("no CC_REFRESH_TOKEN / CC_CLIENT_ID / CC_CLIENT_SECRET: an expired access token cannot be renewed")
    return ConstantContactEnv(
        api_base_url=base_url,
        token_url=token_url,
        client_id=values["CC_CLIENT_ID"],
        client_secret=values["CC_CLIENT_SECRET"],
        access_token=access_token or NO_ACCESS_TOKEN,
        refresh_token=refresh_token,
        notes=tuple(notes),
    )
