"""Integration fixtures: the handlers in-process against moto resources built from template.yaml."""

from tests.integration.relay_fixtures import lambda_context, relay_aws  # noqa: F401 - fixtures
