"""The fault suite's fixtures, and its terminal summary: each run's line is printed whether or not `-s` is given."""

from __future__ import annotations

import pytest

from tests.integration.relay_fixtures import lambda_context, relay_aws  # noqa: F401 - fixtures

FAULT_LINES = pytest.StashKey[list[str]]()


@pytest.fixture
def fault_summary(request: pytest.FixtureRequest) -> list[str]:
    """Lines to print in the "fault suite" section at the end of the run."""
    return request.config.stash.setdefault(FAULT_LINES, [])


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    lines = config.stash.get(FAULT_LINES, [])
    if lines:
        terminalreporter.section("fault suite")
        for line in lines:
            terminalreporter.write_line(line)
