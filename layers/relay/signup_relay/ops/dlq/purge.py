"""Purge: delete the selected DLQ records for good."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from signup_relay.aws.dead_letter_reader import DeadLetter, DeadLetterReader
from signup_relay.ops.dlq.entries import Entry, decode_entry
from signup_relay.ops.dlq.selection import Selection, drain


@dataclass(frozen=True)
class PurgeReport:
    purged: tuple[Entry, ...]
    failed: tuple[Entry, ...] = ()
    not_read: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "purged": [entry.to_json() for entry in self.purged],
            "failed": [entry.to_json() for entry in self.failed],
            "not_read": self.not_read,
        }


def purge_dead_letters(reader: DeadLetterReader, selection: Selection | None = None) -> PurgeReport:
    """Delete the selected records for good."""
    selection = selection or Selection()
    purged: list[Entry] = []
    failed: list[Entry] = []

    def delete(letter: DeadLetter) -> bool:
        entry = decode_entry(letter)
        if not selection.matches(entry):
            return False
        deleted = reader.delete(letter)
        (purged if deleted else failed).append(entry)
        return deleted

    not_read = drain(reader, delete)
    return PurgeReport(purged=tuple(purged), failed=tuple(failed), not_read=not_read)
