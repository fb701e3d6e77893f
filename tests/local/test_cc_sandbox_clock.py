"""The sandbox clock's time scale: on its own, and over real HTTP for every rule that reads the clock."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import requests

from local.cc_sandbox import Sandbox, SandboxClock
from local.cc_sandbox.__main__ import TIME_SCALE_ENV, parse_args
from tests.sandbox_fixtures import sandbox_cli


def api(sandbox: Sandbox) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {sandbox.issue_tokens()['access_token']}"
    return session


def seconds_to_midnight(clock: SandboxClock) -> float:
    now = clock.now()
    midnight = datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)
    return (midnight - now).total_seconds()


# --- the clock -----------------------------------------------------------------------------------------------


def test_a_scaled_clock_runs_faster_and_keeps_its_time_when_the_scale_changes() -> None:
    # Given a clock at 1,000 sandbox seconds per real second
    clock = SandboxClock(scale=1000)
    start = clock.time()

    # When 20 real milliseconds pass, and the scale drops back to 1
    time.sleep(0.02)
    fast = clock.time()
    clock.scale = 1
    after_change = clock.time()

    # Then at least 20 sandbox seconds passed, and the change neither lost nor repeated time
    assert fast - start >= 20
    assert after_change >= fast and clock.scale == 1


def test_freeze_and_advance_work_on_a_scaled_clock() -> None:
    # Given a scaled clock, frozen
    clock = SandboxClock(scale=1000)
    clock.freeze()
    frozen = clock.time()

    # When real time passes and we advance it by hand, then unfreeze and let 10 real ms pass
    time.sleep(0.01)
    still = clock.time()
    clock.advance(5)
    advanced = clock.time()
    clock.unfreeze()
    time.sleep(0.01)
    running = clock.time()

    # Then it stood still, moved exactly by the advance, and ran on from there at its scale
    assert still == frozen and advanced == frozen + 5
    assert running >= advanced + 10


@pytest.mark.parametrize("scale", [0, -1, float("nan")])
def test_a_scale_must_be_positive(scale: float) -> None:
    with pytest.raises(ValueError, match="time scale"):
        SandboxClock(scale=scale)
    clock = SandboxClock()
    with pytest.raises(ValueError, match="time scale"):
        clock.scale = scale
    assert clock.scale == 1


# --- every rule follows the scaled clock ---------------------------------------------------------------------


def test_the_per_second_window_follows_the_scaled_clock() -> None:
    with Sandbox(rate_limit_per_second=4, time_scale=100) as sandbox:
        session = api(sandbox)
        url = f"{sandbox.base_url}/contact_lists"

        # When 4 calls are made, 20 real ms (2 sandbox seconds) pass, and 4 more are made
        first = [session.get(url).status_code for _ in range(4)]
        time.sleep(0.02)
        second = [session.get(url).status_code for _ in range(4)]

        # Then none was throttled: the window is one sandbox second, a hundredth of a real one
        assert first + second == [200] * 8

        # And with the clock frozen the limit holds as before: the 5th call in one sandbox second is refused
        sandbox.clock.freeze()
        sandbox.clock.advance(1)
        burst = [session.get(url).status_code for _ in range(5)]
        assert burst == [200, 200, 200, 200, 429]


def test_the_daily_quota_resets_at_sandbox_midnight_reached_through_the_time_scale() -> None:
    with Sandbox(rate_limit_per_second=0, daily_quota=2) as sandbox:
        # Given the quota used up 30 sandbox seconds before 00:00 UTC
        sandbox.clock.freeze()
        sandbox.clock.advance(seconds_to_midnight(sandbox.clock) - 30)
        session = api(sandbox)
        url = f"{sandbox.base_url}/contact_lists"
        used = [session.get(url).status_code for _ in range(2)]
        refused = session.get(url)

        # When time runs at 600x for 100 real ms (60 sandbox seconds)
        sandbox.time_scale = 600
        sandbox.clock.unfreeze()
        time.sleep(0.1)
        after = session.get(url)

        # Then the day turned over and the quota is fresh
        assert used == [200, 200]
        assert refused.status_code == 429 and refused.json()["error_key"] == "quota_exceeded"
        assert after.status_code == 200 and sandbox.quota_used() == 1
        assert sandbox.clock.now().hour == 0


def test_access_tokens_expire_on_the_scaled_clock() -> None:
    with Sandbox(rate_limit_per_second=0, access_token_ttl=60, time_scale=600) as sandbox:
        sandbox.clock.freeze()  # however slow the first call, it comes within the token's minute
        session = api(sandbox)
        url = f"{sandbox.base_url}/contact_lists"
        fresh = session.get(url).status_code
        sandbox.clock.unfreeze()
        time.sleep(0.15)  # 90 sandbox seconds
        assert (fresh, session.get(url).status_code) == (200, 401)


def test_activity_durations_run_on_the_scaled_clock() -> None:
    with Sandbox(rate_limit_per_second=0, activity_delay=10, activity_item_seconds=10, time_scale=1000) as sandbox:
        session, list_id = api(sandbox), sandbox.seed_list("Launch")
        sandbox.clock.freeze()  # however slow the POST, the import starts at a known sandbox time
        created = session.post(
            f"{sandbox.base_url}/activities/contacts_json_import",
            json={"import_data": [{"email": "a@example.com"}, {"email": "b@example.com"}], "list_ids": [list_id]},
        ).json()
        url = f"{sandbox.base_url}/activities/{created['activity_id']}"
        sandbox.clock.advance(29)  # short of 10 + 2 x 10
        early = session.get(url).json()
        sandbox.clock.unfreeze()
        time.sleep(0.05)  # 50 sandbox seconds more
        status = session.get(url).json()
        assert early["state"] != "completed"
        assert status["state"] == "completed" and status["status"]["person_count"] == 2


# --- setting the scale ---------------------------------------------------------------------------------------


def test_the_cli_takes_the_scale_from_its_flag_else_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TIME_SCALE_ENV, raising=False)
    assert parse_args([]).time_scale == 1
    monkeypatch.setenv(TIME_SCALE_ENV, "3600")
    assert parse_args([]).time_scale == 3600
    assert parse_args(["--time-scale", "60"]).time_scale == 60
    with pytest.raises(SystemExit) as exited:
        parse_args(["--time-scale", "0"])
    assert exited.value.code == 2


def test_the_cli_serves_at_the_scale_of_its_environment() -> None:
    # Given the CLI started with CC_SANDBOX_TIME_SCALE=3600 and activities of 600 s per row
    with sandbox_cli("--seed-list", "L", "--activity-item-seconds", "600", env={TIME_SCALE_ENV: "3600"}) as info:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {info['access_token']}"

        # When a one-row import is posted and 0.3 real seconds (1,080 sandbox seconds) pass
        created = session.post(
            f"{info['base_url']}/activities/contacts_json_import",
            json={"import_data": [{"email": "a@example.com"}], "list_ids": [info["lists"]["L"]]},
            timeout=10,
        ).json()
        time.sleep(0.3)
        status = session.get(f"{info['base_url']}/activities/{created['activity_id']}", timeout=10).json()

        # Then it reports its scale, and the 600-second row is done
        assert info["time_scale"] == 3600
        assert status["state"] == "completed"
