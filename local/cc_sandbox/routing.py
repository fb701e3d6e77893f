"""Route tables of the sandbox's APIs (V3 and V2): (method, path pattern, operation name), matched in one way."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from local.cc_sandbox.errors import ApiError

ID = r"(?P<id>[^/]+)"
Routes = tuple[tuple[str, re.Pattern[str], str], ...]


def compile_routes(table: Iterable[tuple[str, str, str]]) -> Routes:
    """(method, path regex, name) rows, their paths compiled."""
    return tuple((method, re.compile(pattern), name) for method, pattern, name in table)


def match_route(routes: Routes, method: str, path: str, refuse: Callable[[int], ApiError]) -> tuple[re.Match[str], str]:
    """The route of a request and its match; `refuse(404)` or `refuse(405)` (that API's error) when there is none."""
    matched = [(m, match, name) for m, pattern, name in routes if (match := pattern.fullmatch(path))]
    chosen = next(((match, name) for m, match, name in matched if m == method), None)
    if chosen is None:
        raise refuse(405 if matched else 404)
    return chosen


def then(operation: Callable[..., None], *args: Any, answer: tuple[int, Any]) -> tuple[int, Any]:
    """Run an operation that has no response body and answer with a fixed status."""
    operation(*args)
    return answer
