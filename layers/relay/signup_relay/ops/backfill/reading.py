"""Rows of an export file: CSV (a header row, then one submission per row) or JSONL (one delivery body per line:
a JSON body as it is, or a JSON string holding a body of another content type, e.g. a form-encoded one).

Row numbers are what a person finds in the file: for CSV, the record number as a spreadsheet shows it (the header
is row 1); for JSONL, the line number. A row that cannot be read is a `BadRow` with its reason, never dropped.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from signup_relay.errors import ConfigError

Format = Literal["csv", "jsonl"]
ERROR_COLUMN = "backfill_error"  # the reason column of a failed-rows CSV; ignored when that file is read back


@dataclass(frozen=True)
class Row:
    """One readable row: `cells` (CSV, by header), or (JSONL) the delivery `body`, its content type when the line
    says it (JSON; None for a string line: the run's --content-type) and the `line` as written."""

    number: int
    cells: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    content_type: str | None = None
    line: str = ""


@dataclass(frozen=True)
class BadRow:
    number: int
    reason: str
    cells: dict[str, str] = field(default_factory=dict)
    line: str = ""


@dataclass(frozen=True)
class ExportFile:
    path: Path
    format: Format
    text: str
    sha256: str
    header: tuple[str, ...] = ()  # CSV only

    def rows(self) -> Iterator[Row | BadRow]:
        return _csv_rows(self) if self.format == "csv" else _jsonl_rows(self)

    def count(self) -> int:
        """How many rows `rows()` yields (for the progress bar)."""
        return sum(1 for _ in self.rows())


def open_export(path: Path, fmt: Format | None = None) -> ExportFile:
    """Read `path` (UTF-8, a BOM allowed); the format from `fmt` or the file's suffix."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror or error}") from error
    chosen = fmt or _format_of(path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path} is not UTF-8 (byte {error.start}): export it as UTF-8") from error
    digest = hashlib.sha256(data).hexdigest()
    if chosen == "jsonl":
        return ExportFile(path, "jsonl", text, digest)
    header = next(csv.reader(io.StringIO(text)), [])
    names = tuple(name.strip() for name in header)
    if not any(names):
        raise ConfigError(f"{path} has no header row: the first row must name the columns")
    repeated = sorted({name for name in names if name and names.count(name) > 1})
    if repeated:
        raise ConfigError(f"{path}: columns named more than once: {', '.join(repeated)}")
    return ExportFile(path, "csv", text, digest, header=names)


def _format_of(path: Path) -> Format:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    raise ConfigError(f"cannot tell the format of {path.name}: name it .csv or .jsonl, or pass --format")


def _csv_rows(export: ExportFile) -> Iterator[Row | BadRow]:
    reader = csv.reader(io.StringIO(export.text))
    next(reader, None)
    width = len(export.header)
    for number, values in enumerate(reader, start=2):
        if not any(value.strip() for value in values):
            continue  # a blank line: no submission
        cells = {name: value for name, value in zip(export.header, values, strict=False) if name != ERROR_COLUMN}
        if len(values) != width:
            yield BadRow(number, f"{len(values)} cells; the header has {width} columns", cells)
        else:
            yield Row(number, cells)


def _jsonl_rows(export: ExportFile) -> Iterator[Row | BadRow]:
    for number, line in enumerate(export.text.splitlines(), start=1):
        text = line.strip()
        if not text:
            continue
        try:
            value = json.loads(text)
        except ValueError as error:
            yield BadRow(number, f"not JSON: {error}", line=text)
            continue
        if isinstance(value, str) and value.strip():
            yield Row(number, body=value.encode(), line=text)
        elif isinstance(value, dict | list):
            yield Row(number, body=text.encode(), content_type="application/json", line=text)
        else:
            yield BadRow(number, "not a delivery body: a JSON object or array, or a string holding a body", line=text)
