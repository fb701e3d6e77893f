"""The routes file: one route per form, validated at load.

Reference: README, "Routes file reference". `get_routes()` reads ROUTES_FILE once.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import msgspec
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)

from signup_relay.caches import per_container
from signup_relay.config import get_settings, secret_in_family
from signup_relay.constant_contact.limits import V2_CUSTOM_FIELD
from signup_relay.errors import ConfigError, UnknownRouteError, quoted
from signup_relay.models import Consent, UpsertOptions

SourceKind = Literal[
    "generic",
    "typeform",
    "tally",
    "webflow",
    "formstack",
    "framer",
    "formspree",
    "wpforms",
    "hubspot",
    "standard_webhooks",
    "jotform",
    "gravity_forms",
    "elementor",
    "cf7",
    "cognito",
    "fillout",
    "wufoo",
    "unbounce",
    "google_forms",
]
ROUTE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


def _default_secret_id() -> str:
    return get_settings().webhook_secret_id


def _in_family(secret_id: str, base: str, variable: str, parameter: str) -> str:
    """`secret_id` if the deployed stack can use it: `base` or `<base>/<name>` (IAM grants exactly those)."""
    if secret_in_family(secret_id, base):
        return secret_id
    if base.startswith("arn:"):
        raise ValueError(
            f"{secret_id!r} is not {variable} ({base!r}); with the {parameter} parameter given as an ARN the stack "
            f"can use no other secret: give {parameter} as a secret name to use secrets named '<name>/...'"
        )
    raise ValueError(
        f"{secret_id!r} is outside {variable}: name it {base!r} or '{base}/<name>' (the deployed stack's IAM "
        f"policies cover {parameter} and the secrets under '{base}/', nothing else)"
    )


class SecretRef(_Strict):
    """Where a route's webhook secret lives: `key` inside the JSON Secrets Manager secret `id`."""

    secret_id: str = Field(default_factory=_default_secret_id, alias="id", min_length=1)
    key: str = Field(default="", min_length=0)

    @field_validator("secret_id")
    @classmethod
    def _deployable(cls, secret_id: str) -> str:
        return _in_family(secret_id, get_settings().webhook_secret_id, "WEBHOOK_SECRET_ID", "WebhookSecretId")

    @model_validator(mode="before")
    @classmethod
    def _never_inline(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise ValueError(
                "must be a mapping {id: <Secrets Manager secret id>, key: <key in that JSON secret>}; "
                "secrets are never written in the routes file"
            )
        return data


class ConsentField(_Strict):
    """Consent from a checkbox: explicit when `field` holds one of `values`, else `otherwise`."""

    field: str = Field(min_length=1)
    # Empty: any non-empty answer except no/false/off/0 means yes (checkbox arrays, "I agree", "on", "true").
    values: tuple[str, ...] = ()
    otherwise: Literal["none", "implicit"] = "none"

    @field_validator("values", mode="before")
    @classmethod
    def _values_as_text(cls, value: Any) -> Any:
        # YAML turns yes/true/on into booleans; the form sends text.
        if isinstance(value, list | tuple):
            return tuple(("true" if v else "false") if isinstance(v, bool) else str(v) for v in value)
        return value


class ListField(_Strict):
    """Lists chosen on the form: each choice of `field` maps to a list name via `choices`."""

    field: str = Field(min_length=1)
    # Empty: the choice text itself is the list name (only sensible when the form's choices are list names).
    choices: dict[str, str] = Field(default_factory=dict)


class FieldMap(_Strict):
    """Form field (key or label, case-insensitive) for each contact field; unset = found by type/label."""

    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    full_name: str | None = None  # split into first/last when those are not sent separately
    phone: str | None = None
    company_name: str | None = None
    job_title: str | None = None
    street: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None
    birthday: str | None = None  # a date (month and day are kept) or "MM/DD"
    anniversary: str | None = None


class EvidenceFields(_Strict):
    """Constant Contact custom fields (by name) that receive the consent evidence."""

    at: str | None = None
    source: str | None = None
    form: str | None = None
    ip: str | None = None
    text: str | None = None


def pydantic_fields(struct: type[msgspec.Struct]) -> dict[str, Any]:
    """A Struct's fields as `create_model` takes them: with their default, their default factory, or required."""
    fields: dict[str, Any] = {}
    for field in msgspec.structs.fields(struct):
        if field.default is not msgspec.NODEFAULT:
            fields[field.name] = (field.type, field.default)
        elif field.default_factory is not msgspec.NODEFAULT:
            fields[field.name] = (field.type, Field(default_factory=field.default_factory))
        else:
            fields[field.name] = (field.type, ...)
    return fields


# A route's upsert option keys (create_missing_lists, ...) are the fields of `UpsertOptions` (models.py), declared
# there once; this base validates them as keys of the routes file.
_RouteOptions = create_model("_RouteOptions", __base__=_Strict, **pydantic_fields(UpsertOptions))


class Route(_RouteOptions):
    """One form: how to authenticate and parse it, and how its answers become a contact."""

    name: str
    source: SourceKind
    secret: SecretRef
    consent: Consent | ConsentField
    fields: FieldMap = Field(default_factory=FieldMap)
    lists: tuple[str, ...] = ()
    list_field: ListField | None = None
    tags: tuple[str, ...] = ()
    custom_fields: dict[str, str] = Field(default_factory=dict)  # form field -> CC custom field name
    consent_custom_fields: EvidenceFields | None = None
    allow_clearing: bool = False
    too_long: Literal["reject", "truncate"] = "reject"
    phone_kind: Literal["home", "work", "mobile", "other"] = "mobile"
    address_kind: Literal["home", "work", "other"] = "home"
    form_name: str | None = None  # names the form in consent evidence when the payload does not
    account: str | None = None  # Constant Contact secret id: None = CC_SECRET_ID, else '<CC_SECRET_ID>/<name>'

    @field_validator("account")
    @classmethod
    def _deployable_account(cls, account: str | None) -> str | None:
        # Under CC_SECRET_ID: upsert may read it, token refresh may write it and refreshes it every hour.
        if account is None:
            return None
        return _in_family(account, get_settings().cc_secret_id, "CC_SECRET_ID", "CcSecretId")

    @field_validator("custom_fields", "consent_custom_fields")
    @classmethod
    def _v2_custom_field_names[T: (dict[str, str], EvidenceFields | None)](cls, value: T, info: ValidationInfo) -> T:
        if value is None or info.data.get("api") != "v2":
            return value
        names = value.model_dump() if isinstance(value, EvidenceFields) else value
        bad = {key: name for key, name in names.items() if name and not V2_CUSTOM_FIELD.match(name)}
        if bad:
            raise ValueError(
                "with api v2 each value must be CustomField1..CustomField15 (V2 has no other custom fields); "
                f"not {', '.join(f'{key}: {name!r}' for key, name in bad.items())}"
            )
        return value

    @field_validator("lists", "tags")
    @classmethod
    def _names_not_blank(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        if any(not name.strip() for name in names):
            raise ValueError("names must not be blank")
        return tuple(name.strip() for name in names)

    @property
    def options(self) -> UpsertOptions:
        """This route's upsert options, as carried with each of its queued sign-ups."""
        return UpsertOptions(**{name: getattr(self, name) for name in UpsertOptions.__struct_fields__})


class Routes(_Strict):
    """The whole routes file."""

    version: Literal[1] = 1
    routes: dict[str, Route]

    @model_validator(mode="before")
    @classmethod
    def _name_routes(cls, data: Any) -> Any:
        # The route name is the mapping key; it also defaults the secret key.
        if not isinstance(data, dict) or not isinstance(data.get("routes"), dict):
            return data
        named: dict[Any, Any] = {}
        for name, body in data["routes"].items():
            if isinstance(body, dict):
                body = dict(body)
                if "name" in body and body["name"] != name:
                    raise ValueError(f"route {name!r}: key 'name' must equal the route key or be left out")
                body["name"] = name
                secret = body.get("secret", {})
                if isinstance(secret, dict) and not secret.get("key"):
                    body["secret"] = {**secret, "key": str(name)}
            named[name] = body
        return {**data, "routes": named}

    @field_validator("routes")
    @classmethod
    def _route_names(cls, routes: dict[str, Route]) -> dict[str, Route]:
        for name in routes:
            if not ROUTE_NAME.match(name):
                raise ValueError(f"route name {name!r} must be 1-64 of a-z 0-9 - _ (it is a URL path segment)")
        return routes

    def get(self, name: str) -> Route:
        route = self.routes.get(name)
        if route is None:
            raise UnknownRouteError(f"no route named {quoted(name)}")
        return route

    def __contains__(self, name: object) -> bool:
        return name in self.routes

    def __iter__(self) -> Any:
        return iter(self.routes.values())


def _describe(error: dict[str, Any]) -> str:
    loc = [str(part) for part in error.get("loc", ())]
    # Union members show up as class/tag names in the location; they mean nothing to the reader.
    loc = [part for part in loc if not (part[:1].isupper() or "[" in part or part.startswith("function-"))]
    if len(loc) >= 2 and loc[0] == "routes":
        where = f"route {loc[1]!r}"
        key = ".".join(loc[2:])
        return f"{where}, key {key!r}: {error['msg']}" if key else f"{where}: {error['msg']}"
    return f"key {'.'.join(loc) or '(top level)'!r}: {error['msg']}"


def parse_routes(data: Any, *, origin: str = "routes file") -> Routes:
    """Validate already-loaded YAML/JSON data; ConfigError names every bad route and key."""
    try:
        return Routes.model_validate(data)
    except ValidationError as exc:
        problems = sorted({_describe(dict(error)) for error in exc.errors()})
        raise ConfigError(f"{origin} is invalid: " + "; ".join(problems), problems=problems) from None
    except ValueError as exc:
        raise ConfigError(f"{origin} is invalid: {exc}") from None


def load_routes(path: str | Path) -> Routes:
    """Read and validate a routes file."""
    path = Path(path)
    import yaml  # on first use: the upsert side imports this module for its types, never reads the file

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read routes file {str(path)!r}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"routes file {str(path)!r} is not valid YAML: {exc}") from None
    return parse_routes(data, origin=f"routes file {str(path)!r}")


@per_container(maxsize=1)
def get_routes() -> Routes:
    """The routes of settings.routes_file, loaded once per container. Cleared by `caches.clear_all()`."""
    return load_routes(get_settings().routes_file)
