"""Which DLQ records an operation touches, the loop that reads each record once, and list / show."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from signup_relay.aws.dead_letter_reader import DeadLetter, DeadLetterReader
from signup_relay.ops.dlq.entries import Entry, decode_entry

MIN_ID_PREFIX = 8


@dataclass(frozen=True)
class Selection:
    """Which records an operation touches; empty = all. An id is a DLQ message id (or a prefix of at least 8
    characters) or a queued id."""

    route: str | None = None
    error_class: str | None = None
    ids: tuple[str, ...] = ()

    def matches(self, entry: Entry) -> bool:
        if self.route is not None and entry.route != self.route:
            return False
        if self.error_class is not None and entry.error_class != self.error_class:
            return False
        return not self.ids or any(_id_matches(wanted, entry) for wanted in self.ids)


def _id_matches(wanted: str, entry: Entry) -> bool:
    return wanted in (entry.id, entry.queued_id) or (len(wanted) >= MIN_ID_PREFIX and entry.id.startswith(wanted))


def drain(reader: DeadLetterReader, handle: Callable[[DeadLetter], bool]) -> int:
    """Receive until empty, giving each message once to `handle` (True = it deleted the message; else the message
    is held until the end, then released). Returns about how many records the queue holds that were not read:
    locked behind a held record of the same message group, or held by another reader."""
    held: dict[str, DeadLetter] = {}
    handled: set[str] = set()
    try:
        while batch := reader.receive():
            fresh = [letter for letter in batch if letter.message_id not in handled]
            for letter in batch:
                if letter.message_id in held:  # our visibility ran out and we got it again: keep holding it
                    held[letter.message_id] = letter
            if not fresh:
                break
            for letter in fresh:
                handled.add(letter.message_id)
                if not handle(letter):
                    held[letter.message_id] = letter
        available, in_flight = reader.counts()
    finally:
        reader.release(list(held.values()))
    return available + max(0, in_flight - len(held))


@dataclass(frozen=True)
class Listing:
    entries: tuple[Entry, ...]
    not_read: int = 0

    @property
    def summary(self) -> dict[str, int]:
        """Record count by error class, most frequent first (ties by name)."""
        counts = Counter(entry.error_class for entry in self.entries)
        return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))

    def to_json(self, *, detail: bool = False) -> dict[str, Any]:
        return {
            "records": [entry.to_json(detail=detail) for entry in self.entries],
            "total": len(self.entries),
            "by_error_class": self.summary,
            "not_read": self.not_read,
        }


def list_dead_letters(reader: DeadLetterReader, selection: Selection | None = None) -> Listing:
    """Every readable DLQ record (left in the DLQ, visible again when this returns)."""
    selection = selection or Selection()
    entries: list[Entry] = []

    def keep(letter: DeadLetter) -> bool:
        entry = decode_entry(letter)
        if selection.matches(entry):
            entries.append(entry)
        return False

    not_read = drain(reader, keep)
    return Listing(entries=tuple(entries), not_read=not_read)


def find_dead_letter(reader: DeadLetterReader, wanted: str) -> Entry:
    """The one record `wanted` names; LookupError when none or several match."""
    found = list_dead_letters(reader, Selection(ids=(wanted,))).entries
    if len(found) != 1:
        raise LookupError(f"{len(found)} DLQ records match {wanted!r}" + ("" if found else " (run `list` for ids)"))
    return found[0]
