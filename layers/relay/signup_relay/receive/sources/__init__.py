"""Form sources: one module per sender, each with `verify(request, secret, now)` and `parse(request)`.

Modules are imported on first use, so a container only loads the parsers its routes need; the receive use
case (`receive.intake`) runs verify -> parse -> map.
"""

from __future__ import annotations

import importlib
from datetime import datetime
from functools import cache
from typing import Protocol, cast, get_args

from signup_relay.models import RawRequest
from signup_relay.receive.sources._common import TOKEN_HEADER, TOKEN_QUERY_PARAMETER
from signup_relay.receive.submission import Submission
from signup_relay.routes import SourceKind

__all__ = [
    "SOURCE_NAMES",
    "TOKEN_HEADER",
    "TOKEN_QUERY_PARAMETER",
    "Source",
    "get_source",
]

SOURCE_NAMES: tuple[str, ...] = get_args(SourceKind)


class Source(Protocol):
    """What every source module provides."""

    NAME: str

    def verify(self, request: RawRequest, secret: str, now: datetime) -> None:
        """Raise SignatureError unless the request is authentic (and fresh, where the scheme has a timestamp)."""
        ...

    def parse(self, request: RawRequest) -> Submission:
        """The submission in the body; UnsupportedMediaTypeError / UndecodableBodyError when unreadable."""
        ...


@cache
def get_source(name: str) -> Source:
    """The module of a source kind (imported on first use)."""
    if name not in SOURCE_NAMES:
        raise ValueError(f"unknown source kind {name!r}")
    return cast(Source, importlib.import_module(f"{__name__}.{name}"))
