"""Every key a route may set is declared once (`Route`, which inherits `UpsertOptions`) and documented in both
places a person reads: the README's routes file reference and the example routes.yaml."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import pytest

from signup_relay.models import to_data
from signup_relay.routes import Route, UpsertOptions

ROOT = Path(__file__).resolve().parents[2]
ROUTE_KEYS = sorted(name for name in Route.model_fields if name != "name")  # `name` is the mapping key itself


def test_route_inherits_every_upsert_option_and_carries_it() -> None:
    # Given a route that sets every upsert option away from its default
    not_booleans = {"api": "v2"}
    flipped = {
        name: not_booleans.get(name, not field.default)
        for name, field in ((field.name, field) for field in msgspec.structs.fields(UpsertOptions))
    }
    route = Route.model_validate(
        {"name": "r", "source": "generic", "secret": {"key": "r"}, "consent": "explicit", **flipped}
    )
    # Then the queued sign-up's options are exactly those values
    assert to_data(route.options) == flipped


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    return text[start : end if end != -1 else None]


@pytest.mark.parametrize("key", ROUTE_KEYS)
def test_readme_routes_reference_documents_route_key(key: str) -> None:
    reference = _section((ROOT / "README.md").read_text(encoding="utf-8"), "## Routes file reference")
    # a row of the reference table: | `key` | ..., | `key: {...}` | ... or | `a` / `key` | ...
    assert re.search(rf"^\|[^|]*`{key}[`:]", reference, re.MULTILINE), f"README.md's routes reference lacks {key!r}"


@pytest.mark.parametrize("key", ROUTE_KEYS)
def test_example_routes_file_describes_route_key(key: str) -> None:
    text = (ROOT / "routes.yaml").read_text(encoding="utf-8")
    # the commented key list at the top of the file
    assert re.search(rf"^#\s.*\b{key}\b", text, re.MULTILINE), f"routes.yaml's key list lacks {key!r}"
