"""List, custom field and tag names -> Constant Contact ids, cached per container and refreshed on a miss.

Routes name things the way people see them in Constant Contact; the API wants UUIDs. Each kind is loaded
in full on first use (one call for up to 1,000 lists / 500 tags / 100 custom fields per page), and reloaded
at most once per `resolve_*` call when a name is missing, so a list created in the UI a minute ago is found
without restarting the container. A name still missing after that is created when the caller allows it,
otherwise it is reported back as missing (the policy turns that into a `rejected` reason). The same cache
gives a custom field's API name by id (what an import's `cf:` key takes).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from signup_relay.errors import ConflictError


class NamesClient(Protocol):
    def list_contact_lists(self) -> list[dict[str, Any]]: ...

    def create_list(self, name: str) -> dict[str, Any]: ...

    def list_custom_fields(self) -> list[dict[str, Any]]: ...

    def create_custom_field(self, label: str, field_type: str = "string") -> dict[str, Any]: ...

    def list_tags(self) -> list[dict[str, Any]]: ...

    def create_tag(self, name: str) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Resolution:
    """Ids in the order the names were given (duplicates removed), plus the names that could not be resolved."""

    ids: dict[str, str] = field(default_factory=dict)  # name as given -> id
    missing: tuple[str, ...] = ()

    @property
    def id_list(self) -> list[str]:
        return list(dict.fromkeys(self.ids.values()))


class _Catalog:
    """One kind of named thing: a name index loaded from the API, reloaded when stale and missing."""

    def __init__(
        self,
        *,
        load: Callable[[], list[dict[str, Any]]],
        create: Callable[[str], dict[str, Any]],
        id_key: str,
        name_keys: Sequence[str],
        clock: Callable[[], float],
        min_reload_seconds: float,
    ) -> None:
        self._load = load
        self._create = create
        self._id_key = id_key
        self._name_keys = tuple(name_keys)
        self._clock = clock
        self._min_reload_seconds = min_reload_seconds
        self._exact: dict[str, str] = {}
        self._folded: dict[str, str | None] = {}  # casefolded name -> id, None when ambiguous
        self._items: dict[str, dict[str, Any]] = {}  # id -> the item as listed or created
        self._loaded_at: float | None = None
        self._lock = threading.Lock()

    def resolve(self, names: Iterable[str], *, create_missing: bool) -> Resolution:
        wanted = [n for n in dict.fromkeys(n.strip() for n in names) if n]
        if not wanted:
            return Resolution()
        with self._lock:
            if self._loaded_at is None:
                self._reload()
            if self._missing(wanted) and self._is_stale():
                self._reload()
            missing = self._missing(wanted)
            if missing and create_missing:
                for name in missing:
                    self._create_one(name)
                missing = self._missing(wanted)
            ids = {name: found for name in wanted if (found := self._lookup(name)) is not None}
        return Resolution(ids=ids, missing=tuple(missing))

    def item(self, item_id: str) -> dict[str, Any] | None:
        """The item with this id, as listed or created; an unknown id reloads a stale cache once."""
        with self._lock:
            if self._loaded_at is None:
                self._reload()
            if item_id not in self._items and self._is_stale():
                self._reload()
            return self._items.get(item_id)

    def invalidate(self) -> None:
        with self._lock:
            self._loaded_at = None

    def _is_stale(self) -> bool:
        return self._loaded_at is None or self._clock() - self._loaded_at >= self._min_reload_seconds

    def _missing(self, names: Sequence[str]) -> list[str]:
        return [name for name in names if self._lookup(name) is None]

    def _lookup(self, name: str) -> str | None:
        found = self._exact.get(name)
        if found is None:
            found = self._folded.get(name.casefold())
        return found

    def _reload(self) -> None:
        self._exact.clear()
        self._folded.clear()
        self._items.clear()
        for item in self._load():
            self._index(item)
        self._loaded_at = self._clock()

    def _index(self, item: dict[str, Any]) -> None:
        item_id = item.get(self._id_key)
        if not item_id or item.get("deleted_at"):
            return
        self._items[item_id] = item
        for key in self._name_keys:
            value = item.get(key)
            if not isinstance(value, str) or not value:
                continue
            self._exact.setdefault(value, item_id)
            folded = value.casefold()
            if folded in self._folded and self._folded[folded] != item_id:
                self._folded[folded] = None  # two things differ only by case: only an exact name resolves
            else:
                self._folded[folded] = item_id

    def _create_one(self, name: str) -> None:
        try:
            created = self._create(name)
        except ConflictError:
            # Another container created it first: the reload below finds it.
            self._reload()
            return
        self._index(created)


class NameDirectory:
    """Resolves list, custom field and tag names to ids for one Constant Contact account."""

    def __init__(
        self,
        client: NamesClient,
        *,
        clock: Callable[[], float] = time.monotonic,
        min_reload_seconds: float = 5.0,
    ) -> None:
        common: dict[str, Any] = {"clock": clock, "min_reload_seconds": min_reload_seconds}
        self._lists = _Catalog(
            load=client.list_contact_lists, create=client.create_list, id_key="list_id", name_keys=("name",), **common
        )
        # A route may name a custom field by its label ("Favourite colour") or its API name ("Favourite_colour").
        self._custom_fields = _Catalog(
            load=client.list_custom_fields,
            create=client.create_custom_field,
            id_key="custom_field_id",
            name_keys=("name", "label"),
            **common,
        )
        self._tags = _Catalog(
            load=client.list_tags, create=client.create_tag, id_key="tag_id", name_keys=("name",), **common
        )

    def resolve_list_ids(self, names: Iterable[str], *, create_missing: bool = False) -> Resolution:
        return self._lists.resolve(names, create_missing=create_missing)

    def resolve_custom_field_ids(self, names: Iterable[str], *, create_missing: bool = False) -> Resolution:
        return self._custom_fields.resolve(names, create_missing=create_missing)

    def resolve_tag_ids(self, names: Iterable[str], *, create_missing: bool = True) -> Resolution:
        return self._tags.resolve(names, create_missing=create_missing)

    def custom_field_name(self, field_id: str) -> str | None:
        """A custom field's API name (`name`, derived from its label), None when the id is unknown."""
        item = self._custom_fields.item(field_id)
        return str(item.get("name") or "") or None if item else None

    def invalidate(self) -> None:
        """Forget everything (e.g. after a 404 on an id that was cached)."""
        for catalog in (self._lists, self._custom_fields, self._tags):
            catalog.invalidate()


class ListDirectory:
    """List names -> ids for an API whose only named things are lists (V2: `GET /lists`, ids under `id`)."""

    def __init__(
        self,
        load: Callable[[], list[dict[str, Any]]],
        create: Callable[[str], dict[str, Any]],
        *,
        id_key: str = "id",
        clock: Callable[[], float] = time.monotonic,
        min_reload_seconds: float = 5.0,
    ) -> None:
        self._lists = _Catalog(
            load=load,
            create=create,
            id_key=id_key,
            name_keys=("name",),
            clock=clock,
            min_reload_seconds=min_reload_seconds,
        )

    def resolve_list_ids(self, names: Iterable[str], *, create_missing: bool = False) -> Resolution:
        return self._lists.resolve(names, create_missing=create_missing)
