"""ConstantContactV2Client: api_key + bearer on every call, V2's 403 rate limits and key refusal as typed errors."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from signup_relay.constant_contact.v2_client import ConstantContactV2Client, quota_key_of
from signup_relay.errors import (
    ForbiddenError,
    QuotaExceededError,
    ReauthorizationRequiredError,
    ThrottledError,
    ValidationError,
)
from tests.unit.test_cc_client import ScriptedPool, SentRequest

BASE = "https://api.example.test/v2"
OVER_QPS = (403, [{"error_key": "over.qps", "error_message": "Account Over Queries Per Second Limit"}])
OVER_RATE = (403, [{"error_key": "over.ratelimit", "error_message": "Account Over Rate Limit"}])
KEY_REFUSED = (403, [{"error_key": "mashery.not.authorized.inactive", "error_message": "Not Authorized"}])


class Credentials:
    secret_id = "signup-relay/constant-contact/legacy"

    def __init__(self) -> None:
        self.stale_reports: list[str] = []

    def access_token(self) -> str:
        return "v2-token"

    def after_unauthorized(self, stale_access_token: str) -> str:
        self.stale_reports.append(stale_access_token)
        raise ReauthorizationRequiredError("V2 token rejected")

    def api_key(self) -> str:
        return "v2-key"


def make_client(*script: tuple[int, Any] | Exception) -> tuple[ConstantContactV2Client, ScriptedPool, list[float]]:
    adapter = ScriptedPool(*script)
    sleeps: list[float] = []
    client = ConstantContactV2Client(
        base_url=BASE, tokens=Credentials(), http=adapter, sleep=sleeps.append, jitter=lambda a, b: b
    )
    return client, adapter, sleeps


def _query(request: SentRequest) -> dict[str, list[str]]:
    return parse_qs(urlsplit(request.url).query)


def test_every_call_carries_the_api_key_and_the_bearer_token() -> None:
    # Given a V2 account
    client, adapter, _ = make_client((200, {"meta": {"pagination": {}}, "results": [{"id": "1"}]}))
    # When a contact is looked up by email
    found = client.find_contacts_by_email("ada@example.com")
    # Then the call is GET /contacts with api_key, the exact email, status=ALL, and the bearer token
    sent = adapter.sent[0]
    assert found == [{"id": "1"}]
    assert urlsplit(sent.url).path == "/v2/contacts"
    assert _query(sent) == {"api_key": ["v2-key"], "email": ["ada@example.com"], "status": ["ALL"]}
    assert sent.headers["Authorization"] == "Bearer v2-token"


def test_writes_carry_action_by() -> None:
    client, adapter, _ = make_client((201, {"id": "7"}), (200, {"id": "7"}))
    client.create_contact({"lists": [{"id": "1"}]}, action_by="ACTION_BY_VISITOR")
    client.update_contact("7", {"id": "7"}, action_by="ACTION_BY_OWNER")
    assert _query(adapter.sent[0])["action_by"] == ["ACTION_BY_VISITOR"]
    assert adapter.sent[1].method == "PUT" and urlsplit(adapter.sent[1].url).path == "/v2/contacts/7"
    assert _query(adapter.sent[1])["action_by"] == ["ACTION_BY_OWNER"]


def test_the_client_has_no_delete() -> None:
    # V2's DELETE unsubscribes the contact: the client must not offer it
    assert not [name for name in dir(ConstantContactV2Client) if "delete" in name.lower()]


def test_over_qps_is_throttled_and_resent_like_v3s_429() -> None:
    # Given V2's per-second limit answered once
    client, adapter, sleeps = make_client(OVER_QPS, (200, []))
    # When lists are read
    assert client.list_contact_lists() == []
    # Then the call was resent after 1 s, inside the attempt
    assert sleeps == [1.0]
    assert len(adapter.sent) == 2


def test_persistent_over_qps_ends_in_a_throttled_error() -> None:
    client, adapter, _ = make_client(OVER_QPS, OVER_QPS, OVER_QPS)
    with pytest.raises(ThrottledError):
        client.list_contact_lists()
    assert len(adapter.sent) == 3


def test_over_ratelimit_is_the_daily_quota_raised_at_once() -> None:
    client, adapter, sleeps = make_client(OVER_RATE)
    with pytest.raises(QuotaExceededError) as raised:
        client.find_contacts_by_email("ada@example.com")
    assert len(adapter.sent) == 1 and sleeps == []
    assert raised.value.details["error_key"] == "over.ratelimit"
    # ...naming the V2 key whose quota is spent (a digest: the key itself never leaves the client)
    assert raised.value.quota_key == client.quota_key == quota_key_of("v2-key")
    assert client.quota_key.startswith("v2-") and "v2-key" not in client.quota_key[3:]
    assert quota_key_of("v2-key") != quota_key_of("another-v2-key")


def test_a_refused_api_key_is_final_and_says_how_to_fix_it() -> None:
    client, adapter, _ = make_client(KEY_REFUSED)
    with pytest.raises(ReauthorizationRequiredError) as raised:
        client.find_contacts_by_email("ada@example.com")
    assert len(adapter.sent) == 1
    assert "--api v2 --secret-id signup-relay/constant-contact/legacy" in raised.value.message
    assert "v2-key" not in raised.value.message


def test_a_401_asks_the_credentials_once_and_their_refusal_is_final() -> None:
    client, adapter, _ = make_client((401, [{"error_key": "unauthorized", "error_message": "Unauthorized"}]))
    with pytest.raises(ReauthorizationRequiredError):
        client.find_contacts_by_email("ada@example.com")
    assert len(adapter.sent) == 1


def test_other_403s_and_400s_keep_the_v3_meaning() -> None:
    client, _, _ = make_client((403, [{"error_key": "http.status.forbidden", "error_message": "Forbidden"}]))
    with pytest.raises(ForbiddenError):
        client.list_contact_lists()
    client, _, _ = make_client((400, [{"error_key": "json.field.lists.value.invalid", "error_message": "bad"}]))
    with pytest.raises(ValidationError) as raised:
        client.create_contact({}, action_by="ACTION_BY_VISITOR")
    assert "json.field.lists.value.invalid" in raised.value.message


def test_list_ids_are_text() -> None:
    client, _, _ = make_client((200, [{"id": 12, "name": "News", "status": "ACTIVE"}]))
    assert client.list_contact_lists() == [{"id": "12", "name": "News", "status": "ACTIVE"}]
