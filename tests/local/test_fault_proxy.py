"""The fault proxy (local/fault_proxy.py) in front of the sandbox, observed by an HTTP client: each fault kind, and
transparency when faults are off."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from local.cc_sandbox import Sandbox
from local.fault_proxy import DROPPED, ERROR_STATUS, ERROR_STATUSES, LOST_ANSWER, FaultProxy


@pytest.fixture
def sandbox(cc_sandbox_unthrottled: Sandbox) -> Sandbox:
    return cc_sandbox_unthrottled


@pytest.fixture
def bearer(sandbox: Sandbox) -> dict[str, str]:
    return {"Authorization": f"Bearer {sandbox.issue_tokens()['access_token']}"}


def proxy_for(sandbox: Sandbox, **options: Any) -> FaultProxy:
    return FaultProxy(sandbox.root_url, **options)


@pytest.fixture
def transparent(sandbox: Sandbox) -> Iterator[FaultProxy]:
    with proxy_for(sandbox, rate=0.0) as proxy:
        yield proxy


def test_with_rate_zero_every_request_and_answer_passes_through_unchanged(
    sandbox: Sandbox, transparent: FaultProxy, bearer: dict[str, str]
):
    # Given a seeded contact and a proxy with faults off
    sandbox.seed_contact("ada@example.com", first_name="Ada", lists=["News"])

    # When a client reads, writes, is refused and refreshes through the proxy
    found = requests.get(
        transparent.proxied(sandbox.base_url) + "/contacts",
        params={"email": "ada@example.com", "status": "all"},
        headers=bearer,
        timeout=10,
    )
    direct = requests.get(
        sandbox.base_url + "/contacts", params={"email": "ada@example.com", "status": "all"}, headers=bearer, timeout=10
    )
    created = requests.post(
        transparent.proxied(sandbox.base_url) + "/contact_lists", json={"name": "Events"}, headers=bearer, timeout=10
    )
    refused = requests.get(transparent.proxied(sandbox.base_url) + "/contact_lists", timeout=10)
    tokens = requests.post(
        transparent.proxied(sandbox.token_url),
        data={"grant_type": "refresh_token", "refresh_token": sandbox.issue_tokens()["refresh_token"]},
        auth=(sandbox.client_id, sandbox.client_secret),
        timeout=10,
    )

    # Then each answer is the upstream's own: status, body, content type; the write reached the sandbox, the
    # Authorization header went through (and its absence too), and nothing was counted as a fault
    assert (found.status_code, found.json()) == (200, direct.json())
    assert found.headers["Content-Type"] == "application/json"
    assert created.status_code == 201 and sandbox.list_id("Events") == created.json()["list_id"]
    assert (refused.status_code, refused.json()["error_key"]) == (401, "unauthorized")
    assert tokens.status_code == 200 and tokens.json()["access_token"]
    assert transparent.snapshot() == {ERROR_STATUS: 0, DROPPED: 0, LOST_ANSWER: 0, "forwarded": 4}
    assert transparent.faults == []


def test_a_paging_link_followed_through_the_proxy_stays_on_the_proxy(
    sandbox: Sandbox, transparent: FaultProxy, bearer: dict[str, str]
):
    # Given more contacts than one page
    for n in range(3):
        sandbox.seed_contact(f"page-{n}@example.com")
    first = requests.get(
        transparent.proxied(sandbox.base_url) + "/contacts", params={"limit": 2}, headers=bearer, timeout=10
    ).json()

    # When the server-relative next link is followed on the proxy's host
    href = first["_links"]["next"]["href"]
    second = requests.get(transparent.url + href, headers=bearer, timeout=10)

    # Then it is the next page (the proxy rewrote nothing and needed to rewrite nothing)
    assert href.startswith("/v3/")
    assert second.status_code == 200 and len(first["contacts"]) + len(second.json()["contacts"]) == 3


def test_error_status_answers_a_5xx_json_error_without_forwarding(sandbox: Sandbox, bearer: dict[str, str]):
    # Given a proxy that faults every request with an error status
    with proxy_for(sandbox, rate=1.0, kinds=[ERROR_STATUS], seed=3) as proxy:
        sandbox.clear_request_log()

        # When the API and the token endpoint are called through it
        api = requests.post(
            proxy.proxied(sandbox.base_url) + "/contact_lists", json={"name": "Never"}, headers=bearer, timeout=10
        )
        token = requests.post(proxy.proxied(sandbox.token_url), data={"grant_type": "refresh_token"}, timeout=10)

        # Then each gets a 5xx with the error shape of its endpoint, and the sandbox never saw either request
        assert api.status_code in ERROR_STATUSES and api.json()[0]["error_key"] == "server_error"
        assert token.status_code in ERROR_STATUSES and token.json()["error"] == "temporarily_unavailable"
        assert sandbox.request_log == [] and sandbox.list_id("Never") is None
        assert proxy.snapshot()[ERROR_STATUS] == 2
        assert [(f.kind, f.method, f.status) for f in proxy.faults] == [
            (ERROR_STATUS, "POST", api.status_code),
            (ERROR_STATUS, "POST", token.status_code),
        ]


def test_dropped_closes_the_connection_without_forwarding(sandbox: Sandbox, bearer: dict[str, str]):
    # Given a proxy that drops every request
    with proxy_for(sandbox, rate=1.0, kinds=[DROPPED]) as proxy:
        sandbox.clear_request_log()

        # When a client writes through it
        with pytest.raises(requests.ConnectionError):
            requests.post(
                proxy.proxied(sandbox.base_url) + "/contact_lists", json={"name": "Never"}, headers=bearer, timeout=10
            )

        # Then the client saw the connection close with no answer, and nothing reached the sandbox
        assert sandbox.request_log == [] and sandbox.list_id("Never") is None
        assert proxy.snapshot()[DROPPED] == 1 and proxy.snapshot()["forwarded"] == 0


def test_lost_answer_applies_the_write_upstream_then_drops_the_connection(sandbox: Sandbox, bearer: dict[str, str]):
    # Given a proxy that loses every answer
    with proxy_for(sandbox, rate=1.0, kinds=[LOST_ANSWER]) as proxy:
        # When a client creates a list through it
        with pytest.raises(requests.ConnectionError):
            requests.post(
                proxy.proxied(sandbox.base_url) + "/contact_lists", json={"name": "Applied"}, headers=bearer, timeout=10
            )

        # Then the client got no answer, but the sandbox applied the write (it answered 201 to the proxy)
        assert sandbox.list_id("Applied") is not None
        [fault] = proxy.faults
        assert (fault.kind, fault.method, fault.target, fault.upstream_status) == (
            LOST_ANSWER,
            "POST",
            "/v3/contact_lists",
            201,
        )


def test_faults_follow_the_rate_the_seed_and_the_per_path_kinds(sandbox: Sandbox, bearer: dict[str, str]):
    # Given two proxies with the same seed and rate, where the token endpoint may only get error statuses
    def run() -> list[tuple[str, str]]:
        path_kinds = {"/oauth2/": [ERROR_STATUS]}
        with proxy_for(sandbox, rate=0.5, seed=11, kinds=[ERROR_STATUS, DROPPED], path_kinds=path_kinds) as proxy:
            for n in range(40):
                url = proxy.proxied(sandbox.token_url if n % 4 == 0 else sandbox.base_url + "/contact_lists")
                with contextlib.suppress(requests.ConnectionError):
                    requests.get(url, headers=bearer, timeout=10)
            counts = proxy.snapshot()
            assert counts[ERROR_STATUS] + counts[DROPPED] + counts["forwarded"] == 40
            return [(f.kind, f.target) for f in proxy.faults]

    # When the same sequential requests go through each
    first, second = run(), run()

    # Then about half were faulted, the same ones the same way, and none on the token endpoint was dropped
    assert first == second
    assert 10 <= len(first) <= 30
    assert {kind for kind, target in first if target.startswith("/oauth2/")} <= {ERROR_STATUS}


def test_setting_the_rate_to_zero_turns_faults_off(sandbox: Sandbox, bearer: dict[str, str]):
    # Given a proxy that faults everything
    with proxy_for(sandbox, rate=1.0, kinds=[ERROR_STATUS]) as proxy:
        url = proxy.proxied(sandbox.base_url) + "/contact_lists"
        assert requests.get(url, headers=bearer, timeout=10).status_code in ERROR_STATUSES

        # When faults are turned off
        proxy.rate = 0.0

        # Then requests pass through again
        assert requests.get(url, headers=bearer, timeout=10).status_code == 200


def test_only_http_upstreams_and_known_kinds_are_accepted():
    with pytest.raises(ValueError, match="http://"):
        FaultProxy("https://api.cc.email")
    with pytest.raises(ValueError, match="unknown fault kinds"):
        FaultProxy("http://127.0.0.1:9", kinds=["slow"])
