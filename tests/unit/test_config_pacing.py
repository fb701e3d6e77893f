"""The throughput contract (docs/architecture.md §7):
the API key's limit is shared by the upsert containers that run at once."""

from __future__ import annotations

import pytest

from local.template import function_environment, load_template, parameter_defaults, resolve
from signup_relay.config import get_settings, per_container_rate


def test_each_container_gets_its_share_of_the_api_key_limit(monkeypatch: pytest.MonkeyPatch):
    # Given the template's two concurrent upsert containers and Constant Contact's default 4 requests/s
    monkeypatch.delenv("CC_RATE_LIMIT_PER_SECOND", raising=False)
    monkeypatch.setenv("UPSERT_MAX_CONCURRENCY", "2")

    # When the settings are read
    settings = get_settings()

    # Then one container paces itself to 2 requests/s, so both together stay at 4
    assert settings.cc_rate_limit_per_second == 4.0
    assert settings.upsert_max_concurrency == 2
    assert settings.cc_requests_per_second == 2.0
    assert settings.cc_requests_per_second * settings.upsert_max_concurrency <= 4.0


def test_a_single_container_uses_the_whole_limit_and_zero_disables_pacing(monkeypatch: pytest.MonkeyPatch):
    # Given no concurrency setting (one container: tests, the local stack) and an explicit limit of 0
    monkeypatch.delenv("UPSERT_MAX_CONCURRENCY", raising=False)
    monkeypatch.delenv("CC_RATE_LIMIT_PER_SECOND", raising=False)
    default_pace = get_settings().cc_requests_per_second
    get_settings.cache_clear()
    monkeypatch.setenv("CC_RATE_LIMIT_PER_SECOND", "0")

    # When the settings are read again
    disabled_pace = get_settings().cc_requests_per_second

    # Then the single container may use all 4 requests/s, and 0 turns pacing off
    assert default_pace == 4.0
    assert disabled_pace == 0.0


@pytest.mark.parametrize(("limit", "concurrency"), [(-1.0, 2), (4.0, 0)])
def test_impossible_pacing_settings_are_refused(limit: float, concurrency: int):
    # Given a negative limit or no container at all / When the pace is computed / Then it is refused
    with pytest.raises(ValueError, match="CC_RATE_LIMIT_PER_SECOND|UPSERT_MAX_CONCURRENCY"):
        per_container_rate(limit, concurrency)


def test_the_template_tells_the_upsert_function_its_concurrency():
    # Given template.yaml / When the upsert function's environment is resolved with the parameter defaults
    environment = function_environment("UpsertFunction")
    value = resolve(environment["UPSERT_MAX_CONCURRENCY"], parameter_defaults())
    mapping = load_template()["Resources"]["UpsertEventSourceMapping"]["Properties"]
    scaling = mapping["ScalingConfig"]

    # Then it is the same number as the event source's MaximumConcurrency parameter
    assert mapping["FunctionName"] == {"Ref": "UpsertFunction"}
    assert environment["UPSERT_MAX_CONCURRENCY"] == scaling["MaximumConcurrency"] == {"Ref": "UpsertMaxConcurrency"}
    assert value == parameter_defaults()["UpsertMaxConcurrency"] == "2"
