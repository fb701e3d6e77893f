"""The layer's lock (`make lock`) agrees with its == pins: every pin locked at its version, with hashes."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = ROOT / "layers" / "relay" / "requirements.txt"
LOCK = ROOT / "layers" / "relay" / "requirements.lock"
DIRECT = "-r layers/relay/requirements.txt"  # how the lock marks a package that requirements.txt names
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(\S+)")


def _name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()  # PEP 503


def pins(text: str) -> dict[str, str]:
    """Package -> version of each `name[extras]==version` line."""
    return {_name(m[1]): m[2] for line in text.splitlines() if (m := PIN.match(line.strip()))}


def locked(text: str) -> dict[str, tuple[str, int, bool]]:
    """Package -> (version, number of hashes, named by requirements.txt) of each entry of a hashed lock."""
    entries: dict[str, tuple[str, int, bool]] = {}
    for block in re.split(r"\n(?=\S)", text):
        if match := PIN.match(block):
            entries[_name(match[1])] = (match[2], block.count("--hash=sha256:"), DIRECT in block)
    return entries


def disagreements(requirements: str, lock: str) -> list[str]:
    """What a lock regenerated from `requirements` would change, in words; empty when they agree."""
    wanted, entries = pins(requirements), locked(lock)
    problems = [f"{name}=={version} is not in the lock" for name, version in wanted.items() if name not in entries]
    problems += [
        f"{name} is pinned {version} but locked {entries[name][0]}"
        for name, version in wanted.items()
        if name in entries and entries[name][0] != version
    ]
    problems += [
        f"{name} is locked as a direct requirement but not pinned"
        for name, (_, _, direct) in entries.items()
        if direct and name not in wanted
    ]
    problems += [f"{name} has no hash in the lock" for name, e in entries.items() if e[1] == 0]
    return problems


def test_the_lock_agrees_with_every_pin_of_the_layer():
    # Given the layer's == pins and its hashed lock / Then they agree (else run `make lock`)
    assert disagreements(REQUIREMENTS.read_text(), LOCK.read_text()) == []


def test_a_pin_changed_without_make_lock_is_caught():
    # Given the lock, and the pins with one version bumped, one pin added and one removed by hand
    requirements, lock = REQUIREMENTS.read_text(), LOCK.read_text()
    bumped = re.sub(r"^boto3==\S+", "boto3==0.0.1", requirements, flags=re.MULTILINE)
    added = requirements + "tzdata==2026.1\n"
    removed = re.sub(r"^PyYAML==\S+\n", "", requirements, flags=re.MULTILINE)
    # When compared / Then each disagreement is named
    assert any(p.startswith("boto3 is pinned 0.0.1") for p in disagreements(bumped, lock))
    assert disagreements(added, lock) == ["tzdata==2026.1 is not in the lock"]
    assert disagreements(removed, lock) == ["pyyaml is locked as a direct requirement but not pinned"]
    # And a lock entry without hashes is named too
    unhashed = re.sub(r"(multipart==\S+) \\\n(\s+--hash=\S+( \\)?\n)+", r"\1\n", lock)
    assert disagreements(requirements, unhashed) == ["multipart has no hash in the lock"]
