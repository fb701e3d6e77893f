"""Per-container caches (settings, clients, wiring), registered in one place so they can be forgotten at once."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_REGISTRY: list[Any] = []


def per_container(maxsize: int = 1) -> Callable[[F], F]:
    """`functools.lru_cache` that `clear_all()` also clears: a value kept for the life of a Lambda container."""

    def decorate(function: F) -> F:
        cached = lru_cache(maxsize=maxsize)(function)
        _REGISTRY.append(cached)
        return cached  # type: ignore[return-value]

    return decorate


def clear_all() -> None:
    """Forget every per-container cache (tests, the local stack after its environment changed)."""
    for cached in _REGISTRY:
        cached.cache_clear()
