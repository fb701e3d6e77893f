"""NameDirectory: names -> ids, cached per container, reloaded once on a miss, created only when allowed."""

from __future__ import annotations

from typing import Any

from signup_relay.constant_contact.names import NameDirectory
from signup_relay.errors import ConflictError


class CatalogClient:
    """An account's lists, custom fields and tags, counting how often each is listed or created."""

    def __init__(self) -> None:
        self.lists: list[dict[str, Any]] = [{"list_id": "l-news", "name": "News"}]
        self.fields: list[dict[str, Any]] = [
            {"custom_field_id": "cf-1", "name": "Favourite_colour", "label": "Favourite colour"}
        ]
        self.tags: list[dict[str, Any]] = [{"tag_id": "t-vip", "name": "vip"}]
        self.loads = {"lists": 0, "fields": 0, "tags": 0}
        self.created: list[str] = []
        self.conflict_on_create = False

    def list_contact_lists(self) -> list[dict[str, Any]]:
        self.loads["lists"] += 1
        return list(self.lists)

    def create_list(self, name: str) -> dict[str, Any]:
        self.created.append(f"list:{name}")
        if self.conflict_on_create:
            self.lists.append({"list_id": f"l-{name}", "name": name})
            raise ConflictError("409")
        item = {"list_id": f"l-{name}", "name": name}
        self.lists.append(item)
        return item

    def list_custom_fields(self) -> list[dict[str, Any]]:
        self.loads["fields"] += 1
        return list(self.fields)

    def create_custom_field(self, label: str, field_type: str = "string") -> dict[str, Any]:
        self.created.append(f"field:{label}")
        item = {"custom_field_id": f"cf-{label}", "label": label, "name": label.replace(" ", "_")}
        self.fields.append(item)
        return item

    def list_tags(self) -> list[dict[str, Any]]:
        self.loads["tags"] += 1
        return list(self.tags)

    def create_tag(self, name: str) -> dict[str, Any]:
        self.created.append(f"tag:{name}")
        item = {"tag_id": f"t-{name}", "name": name}
        self.tags.append(item)
        return item


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_names_are_loaded_once_and_then_served_from_the_cache() -> None:
    # Given a directory over an account with a "News" list
    client = CatalogClient()
    names = NameDirectory(client)
    # When "News" is resolved three times
    results = [names.resolve_list_ids(["News"]) for _ in range(3)]
    # Then the lists were listed once
    assert all(r.id_list == ["l-news"] for r in results)
    assert client.loads["lists"] == 1


def test_nothing_is_loaded_for_a_sign_up_without_names_of_that_kind() -> None:
    client = CatalogClient()
    NameDirectory(client).resolve_tag_ids([])
    assert client.loads["tags"] == 0


def test_a_miss_on_a_stale_cache_reloads_once_and_finds_a_list_created_since() -> None:
    # Given a warm cache, then a list created in the UI later
    client = CatalogClient()
    clock = Clock()
    names = NameDirectory(client, clock=clock, min_reload_seconds=5)
    names.resolve_list_ids(["News"])
    client.lists.append({"list_id": "l-events", "name": "Events"})
    clock.now = 10
    # When the new list is asked for
    found = names.resolve_list_ids(["Events"])
    # Then one reload found it
    assert found.id_list == ["l-events"]
    assert client.loads["lists"] == 2


def test_a_missing_list_is_reported_not_created_unless_allowed() -> None:
    # Given no "Nope" list
    client = CatalogClient()
    names = NameDirectory(client)
    # When it is resolved without and with permission to create
    refused = names.resolve_list_ids(["News", "Nope"])
    created = names.resolve_list_ids(["News", "Nope"], create_missing=True)
    # Then it is missing first, then created once
    assert refused.missing == ("Nope",)
    assert created.missing == ()
    assert created.id_list == ["l-news", "l-Nope"]
    assert client.created == ["list:Nope"]


def test_a_conflict_on_create_means_someone_else_created_it() -> None:
    client = CatalogClient()
    client.conflict_on_create = True
    found = NameDirectory(client).resolve_list_ids(["Raced"], create_missing=True)
    assert found.id_list == ["l-Raced"]


def test_custom_fields_resolve_by_label_or_name() -> None:
    names = NameDirectory(CatalogClient())
    by_label = names.resolve_custom_field_ids(["Favourite colour"])
    by_name = names.resolve_custom_field_ids(["Favourite_colour"])
    assert by_label.ids == {"Favourite colour": "cf-1"}
    assert by_name.ids == {"Favourite_colour": "cf-1"}


def test_missing_tags_are_created_by_default_and_custom_fields_are_not() -> None:
    client = CatalogClient()
    names = NameDirectory(client)
    tags = names.resolve_tag_ids(["vip", "fair-2026"])
    fields = names.resolve_custom_field_ids(["Shoe size"])
    assert tags.id_list == ["t-vip", "t-fair-2026"]
    assert fields.missing == ("Shoe size",)
    assert client.created == ["tag:fair-2026"]


def test_case_differences_resolve_when_unambiguous() -> None:
    names = NameDirectory(CatalogClient())
    assert names.resolve_list_ids(["news"]).id_list == ["l-news"]


def test_a_custom_fields_api_name_comes_from_the_cached_listing() -> None:
    # Given a directory that resolved a custom field by its label, then created one
    client = CatalogClient()
    names = NameDirectory(client)
    resolved = names.resolve_custom_field_ids(["Favourite colour"]).ids["Favourite colour"]
    created = names.resolve_custom_field_ids(["Shoe size"], create_missing=True).ids["Shoe size"]
    # When their API names are looked up by id
    found = [names.custom_field_name(resolved), names.custom_field_name(created)]
    # Then both come from what was listed or created: the fields were listed once
    assert found == ["Favourite_colour", "Shoe_size"]
    assert client.loads["fields"] == 1


def test_an_unknown_custom_field_id_reloads_a_stale_cache_once() -> None:
    # Given a directory whose custom fields were listed, and a field created elsewhere since
    client, clock = CatalogClient(), Clock()
    names = NameDirectory(client, clock=clock, min_reload_seconds=5)
    assert names.custom_field_name("cf-1") == "Favourite_colour"
    client.fields.append({"custom_field_id": "cf-new", "name": "Shoe_size", "label": "Shoe size"})
    # When its id is looked up before and after the cache is stale
    fresh = names.custom_field_name("cf-new")
    clock.now = 10
    stale = names.custom_field_name("cf-new")
    # Then a fresh cache answers None without a call; a stale one reloads once and finds it
    assert (fresh, stale) == (None, "Shoe_size")
    assert client.loads["fields"] == 2
    # And an id unknown right after that reload is not listed again
    assert names.custom_field_name("cf-gone") is None and client.loads["fields"] == 2
