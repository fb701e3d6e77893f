"""The wired upsert engine against the sandbox, for the engine's end-to-end tests (V3 and V2 alike).

The engine picks the API per sign-up (its account's secret says which), so one class serves both.
"""

from __future__ import annotations

import json
from typing import Any

import boto3

from local.cc_sandbox import Sandbox
from signup_relay.models import Signup, UpsertResult
from signup_relay.upsert import wiring as engine


class WiredEngine:
    """The wired engine, the sandbox it writes to (with the News and Events lists) and the V3 app's secret id."""

    def __init__(self, sandbox: Sandbox, secret_id: str) -> None:
        self.sandbox = sandbox
        self.secret_id = secret_id
        self.news = sandbox.seed_list("News")
        self.events = sandbox.seed_list("Events")

    def upsert(self, signup: Signup) -> UpsertResult:
        return engine.get_upserter(signup.account).upsert(signup)

    def stored(self, email: str) -> dict[str, Any]:
        contact = self.sandbox.contact_by_email(email)
        assert contact is not None, f"the sandbox holds no contact for {email}"
        return contact

    def v2_view(self, email: str) -> dict[str, Any]:
        """The stored contact as the V2 API shows it."""
        return self.sandbox.v2_contact(self.sandbox.v2_contact_id(self.stored(email)["contact_id"]))

    def writes(self) -> list[str]:
        """`METHOD /path` of every request but GETs the sandbox logged."""
        return [f"{r['method']} {r['path']}" for r in self.sandbox.request_log if r["method"] != "GET"]

    def secret(self) -> dict[str, Any]:
        """The V3 app's OAuth secret as Secrets Manager (moto, while the test runs) holds it now."""
        secret_string = boto3.client("secretsmanager").get_secret_value(SecretId=self.secret_id)["SecretString"]
        return dict(json.loads(secret_string))
