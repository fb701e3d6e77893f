"""The checkpoint file: which rows of one export are applied, so a re-run resumes instead of repeating them.

JSON beside the export (`<input>.checkpoint.json`): the export's sha256, the route, and per applied row its outcome
(and reason when rejected). Written atomically (a temporary file in the same directory, then `os.replace`), so an
interrupted run leaves the previous or the new checkpoint, never half of one. Rows that failed for a transient
reason, stopped for the quota, or could not be mapped are not recorded: a re-run tries them again.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from signup_relay.errors import ConfigError

VERSION = 1


@dataclass(frozen=True)
class Done:
    outcome: str
    reason: str | None = None


@dataclass
class Checkpoint:
    path: Path
    input_sha256: str
    route: str
    done: dict[int, Done] = field(default_factory=dict)

    @classmethod
    def open(cls, path: Path, *, input_sha256: str, route: str, restart: bool = False) -> Checkpoint:
        """The checkpoint for this export and route: resumed from `path`, or new (`restart`, or no file yet).

        ConfigError when `path` belongs to another file content or route: a changed export is never resumed by
        row numbers that may now name other people.
        """
        if restart or not path.exists():
            return cls(path, input_sha256, route)
        try:
            data = json.loads(path.read_text())
            done = {int(row): Done(**entry) for row, entry in data["rows"].items()}
            stored_sha, stored_route = str(data["input_sha256"]), str(data["route"])
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ConfigError(f"checkpoint {path} is unreadable ({error}): pass --restart to start over") from error
        if stored_sha != input_sha256:
            raise ConfigError(
                f"the input file changed since checkpoint {path} was written ({len(done)} rows applied from the "
                "earlier content): run with the original file, or pass --restart to apply every row of this one"
            )
        if stored_route != route:
            raise ConfigError(f"checkpoint {path} is for route {stored_route!r}: use that route, or --restart")
        return cls(path, input_sha256, route, done)

    def record(self, rows: Mapping[int, Done]) -> None:
        """Add applied rows and write the file."""
        if rows:
            self.done.update(rows)
            self.save()

    def save(self) -> None:
        data: dict[str, Any] = {
            "version": VERSION,
            "input_sha256": self.input_sha256,
            "route": self.route,
            "rows": {str(row): _compact(done) for row, done in sorted(self.done.items())},
        }
        # Compact: rewritten after every batch of a long run.
        write_atomically(self.path, json.dumps(data, separators=(",", ":")) + "\n")


def _compact(done: Done) -> dict[str, str]:
    return {"outcome": done.outcome} if done.reason is None else {"outcome": done.outcome, "reason": done.reason}


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` with `text` in one step: readers see the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
