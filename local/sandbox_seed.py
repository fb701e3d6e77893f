"""LOCAL_SANDBOX_SEED: start the EMBEDDED sandbox with an account that looks lived in (never a real account).

A seed file is JSON (keys starting with "_" are comments and are ignored):

    {
      "lists": ["Newsletter"],                 # lists that exist before any sign-up
      "custom_fields": ["Member since"],       # custom fields (string) that exist before any sign-up
      "tags": [],
      "contacts": [                            # one object per contact: `email` plus the sandbox's seed_contact
        {"email": "a@example.com", "lists": ["Newsletter"], "deleted": true},
        {"email": "b@example.com", "permission_to_send": "unsubscribed", "opt_out_source": "Contact"},
        {"email": "c@example.com", "job_title": "...", "custom_fields": {"Member since": "1964"}}
      ]
    }

Contact fields are those of the V3 contact resource plus `lists`, `tags`, `custom_fields` ({label: value}),
`permission_to_send`, `deleted`, `opt_out_source`, `opt_out_reason`, and `v2` for what only the V2 API shows
(`fax`, `prefix_name`, `custom_fields` [{"name": "CustomField1", "value": ...}]; see `Sandbox.seed_contact`).
`make demo` uses events/sandbox_seed.json (written by `python -m local.events` with the sign-ups that meet it). The
local stack refuses a seed together with CC_API_BASE_URL: an external account is never written to at start.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.stack_config import LocalConfigError

SEED_ENV = "LOCAL_SANDBOX_SEED"
ROOT = Path(__file__).resolve().parent.parent
DEMO_SEED_FILE = ROOT / "events" / "sandbox_seed.json"
NAME_KEYS = ("lists", "custom_fields", "tags")


@dataclass(frozen=True)
class SandboxSeed:
    """What a seed file puts in the sandbox before the stack serves anything."""

    path: Path
    lists: tuple[str, ...] = ()
    custom_fields: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    contacts: tuple[dict[str, Any], ...] = ()


def _visible(data: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if not key.startswith("_")}


def load_seed(path: str | Path) -> SandboxSeed:
    """Read and check a seed file; LocalConfigError names the file and the problem."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except OSError as error:
        raise LocalConfigError(f"{SEED_ENV}: cannot read {path}: {error.strerror or error}") from None
    except ValueError as error:
        raise LocalConfigError(f"{SEED_ENV}: {path} is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise LocalConfigError(f"{SEED_ENV}: {path} must be a JSON object")
    data = _visible(data)
    if unknown := sorted(set(data) - {*NAME_KEYS, "contacts"}):
        raise LocalConfigError(f"{SEED_ENV}: {path}: unknown key(s) {', '.join(unknown)}")
    names: dict[str, tuple[str, ...]] = {}
    for key in NAME_KEYS:
        values = data.get(key, [])
        if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
            raise LocalConfigError(f"{SEED_ENV}: {path}: {key} must be a list of names")
        names[key] = tuple(values)
    contacts = data.get("contacts", [])
    if not isinstance(contacts, list):
        raise LocalConfigError(f"{SEED_ENV}: {path}: contacts must be a list")
    checked = []
    for index, contact in enumerate(contacts):
        if not isinstance(contact, dict) or not isinstance(contact.get("email"), str):
            raise LocalConfigError(f"{SEED_ENV}: {path}: contacts[{index}] must be an object with an email")
        checked.append(_visible(contact))
    return SandboxSeed(path=path, contacts=tuple(checked), **names)


def seed_from_env(env: Mapping[str, str], *, external_account: bool) -> SandboxSeed | None:
    """The seed named by LOCAL_SANDBOX_SEED (None when unset); refused with an external Constant Contact."""
    value = env.get(SEED_ENV, "").strip()
    if not value:
        return None
    if external_account:
        raise LocalConfigError(
            f"{SEED_ENV} seeds the embedded sandbox only; unset it (or CC_API_BASE_URL) - an external account is "
            "never written to at start"
        )
    return load_seed(value)


def apply_seed(sandbox: Any, seed: SandboxSeed) -> dict[str, str]:
    """Create the seed's lists, custom fields, tags and contacts in `sandbox`; email -> contact id.

    A contact the sandbox refuses (e.g. an unknown V3 property) raises LocalConfigError naming it.
    """
    for name in seed.lists:
        sandbox.seed_list(name)
    for label in seed.custom_fields:
        sandbox.seed_custom_field(label)
    for name in seed.tags:
        sandbox.seed_tag(name)
    contact_ids: dict[str, str] = {}
    for contact in seed.contacts:
        fields = dict(contact)
        email = fields.pop("email")
        try:
            contact_ids[email] = sandbox.seed_contact(email, **fields)
        except (ValueError, TypeError) as error:
            raise LocalConfigError(f"{SEED_ENV}: {seed.path}: {error}") from None
    return contact_ids
