"""Every make command the README shows names a target of the Makefile, and every file it points to exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ("README.md", "local/README.md", "docs/architecture.md", "docs/token-refresh.md")


def _code(text: str) -> str:
    """The README's code: fenced blocks and inline `...` spans."""
    return "\n".join(re.findall(r"```[a-z]*\n(.*?)```", text, re.S) + re.findall(r"`([^`\n]+)`", text))


def test_every_make_command_shown_is_a_target():
    targets = set(re.findall(r"^([a-z0-9-]+):", (ROOT / "Makefile").read_text(), re.M))
    for doc in DOCS:
        shown = set(re.findall(r"(?:^|[\s;&(])make ([a-z][a-z0-9-]*)", _code((ROOT / doc).read_text()), re.M))
        assert shown or doc != "README.md"
        assert shown <= targets, f"{doc} shows make {sorted(shown - targets)}, which the Makefile does not have"


def test_every_file_the_readme_sends_or_links_exists():
    readme = (ROOT / "README.md").read_text()
    files = set(re.findall(r"(?<![A-Z_])FILE=(\S+)", readme)) | set(re.findall(r"\]\(((?!https?:|#)[^)#]+)\)", readme))
    assert files
    assert [f for f in sorted(files) if not (ROOT / f).exists()] == []
