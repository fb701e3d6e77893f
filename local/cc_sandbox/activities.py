"""Bulk activities: their lifecycle on the sandbox clock, GET /activities, and the list and tag activities.

An account works through its activities one at a time, in the order they were posted: each waits `activity_delay`
(`initialized`), then takes `item_seconds` per item (`processing`, items applied one by one as the clock reaches
them), then ends `completed` (or `failed` when a test asked for it). Items are applied at the start of the next
request that finds them due, stamped with the time they were due. Rules and sources: local/README.md.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from local.cc_sandbox.clock import iso
from local.cc_sandbox.errors import ApiError, not_found, validation_error
from local.cc_sandbox.json_import import ImportRequest, apply_row, read_import
from local.cc_sandbox.store import AccountStore, _int_param, _page, _resolve_cursor, new_id
from local.cc_sandbox.validation import MAX_LISTS, MAX_TAGGINGS, Problems, check_keys, id_list

MAX_QUEUED = 1000
RETENTION_SECONDS = 10 * 86400
LISTED_STATES = ("processing", "completed", "cancelled", "failed", "timed_out")  # the spec's enum for `state`
TOO_MANY_QUEUED = ApiError(
    429,
    [
        {
            "error_key": "activities.api.too_many_requests",
            "error_message": f"Too many requests. You exceeded {MAX_QUEUED:,} queued activities for this account.",
        }
    ],
)

Apply = Callable[["Activity", int, float], None]


@dataclass
class Activity:
    activity_id: str
    kind: str
    created_at: float
    started_at: float  # scheduled: when processing begins
    item_seconds: float
    items: list[Any]  # emptied once the activity has finished
    apply: Apply  # (activity, item index, time the item is due)
    status: dict[str, int]
    fail_after: int | None = None  # a test-injected failure after this many items
    errors: list[str] = field(default_factory=list)
    done: int = 0
    finished: bool = False
    total: int = field(init=False)  # len(items), kept after they are emptied

    def __post_init__(self) -> None:
        self.total = len(self.items)

    def refuse(self, error: str) -> None:
        """Record an item the activity could not apply: its error, counted in `error_count`."""
        self.errors.append(error)
        self.status["error_count"] += 1

    @property
    def runs(self) -> int:
        """How many items are processed before the activity ends."""
        return self.total if self.fail_after is None else min(self.fail_after, self.total)

    @property
    def ends_at(self) -> float:
        return self.started_at + self.runs * self.item_seconds

    @property
    def failed(self) -> bool:
        return self.fail_after is not None and self.fail_after < self.total

    def due_at(self, index: int) -> float:
        return self.started_at + (index + 1) * self.item_seconds


class ActivityQueue:
    """One account's bulk activities, run on its `AccountStore` under the store lock."""

    def __init__(self, store: AccountStore, *, activity_delay: float = 0.0, item_seconds: float = 0.0) -> None:
        self.store = store
        self.activity_delay = activity_delay
        self.item_seconds = item_seconds
        self.activities: dict[str, Activity] = {}
        self._pending: deque[Activity] = deque()  # not finished, in processing order
        self._failures: deque[int] = deque()

    # --- lifecycle -----------------------------------------------------------------------------

    def fail_next(self, after_items: int = 0) -> None:
        """The next activity posted processes `after_items` items, then ends `failed`."""
        with self.store.lock:
            self._failures.append(after_items)

    def queued(self) -> int:
        """Activities not finished yet (initialized or processing)."""
        with self.store.lock:
            self.process_due()
            return len(self._pending)

    def _admit(self) -> None:
        """429 once the account has 1,000 activities queued (checked before the body is validated)."""
        self.process_due()
        if len(self._pending) >= MAX_QUEUED:
            raise TOO_MANY_QUEUED

    def _queue(self, kind: str, items: list[Any], apply: Apply, status: dict[str, int]) -> dict[str, Any]:
        now = self.store.clock.time()
        previous_end = self._pending[-1].ends_at if self._pending else now
        activity = Activity(
            activity_id=new_id(),
            kind=kind,
            created_at=now,
            started_at=max(now + self.activity_delay, previous_end),
            item_seconds=self.item_seconds,
            items=items,
            apply=apply,
            status={"items_total_count": len(items), "items_completed_count": 0, **status},
            fail_after=self._failures.popleft() if self._failures else None,
        )
        self.activities[activity.activity_id] = activity
        self._pending.append(activity)
        return self.render(activity, initial=True)

    def process_due(self) -> None:
        """Apply every item whose time has come, in order (called at the start of each request)."""
        with self.store.lock:
            now = self.store.clock.time()
            while self._pending:
                a = self._pending[0]
                if now < a.started_at:
                    return
                due = a.runs if now >= a.ends_at else min(a.runs, int((now - a.started_at) / a.item_seconds))
                for index in range(a.done, due):
                    a.apply(a, index, a.due_at(index))
                    a.done = index + 1
                    a.status["items_completed_count"] = a.done
                if a.done < a.runs or now < a.ends_at:
                    return
                if a.failed:
                    a.errors.append(f"The activity failed after processing {a.done} of {a.total} items.")
                a.finished, a.items = True, []
                self._pending.popleft()

    # --- rendering and reads --------------------------------------------------------------------

    def render(self, a: Activity, *, initial: bool = False) -> dict[str, Any]:
        if a.finished:
            state, updated = ("failed" if a.failed else "completed"), a.ends_at
        elif initial or self.store.clock.time() < a.started_at:
            state, updated = "initialized", a.created_at
        else:
            state, updated = "processing", a.due_at(a.done - 1) if a.done else a.started_at
        out: dict[str, Any] = {"activity_id": a.activity_id, "state": state, "created_at": iso(a.created_at)}
        out["updated_at"] = iso(updated)
        if state != "initialized":
            out["started_at"] = iso(a.started_at)
        if state == "completed":
            out["completed_at"] = iso(a.ends_at)
        percent = 100 if state == "completed" else (100 * a.done // a.total if a.total else 0)
        out |= {"percent_done": percent, "activity_errors": list(a.errors), "status": dict(a.status)}
        out["_links"] = {"self": {"href": f"/v3/activities/{a.activity_id}"}}
        return out

    def _retained(self, a: Activity) -> bool:
        return a.created_at > self.store.clock.time() - RETENTION_SECONDS

    def get_activity(self, activity_id: str) -> dict[str, Any]:
        """GET /activities/{id}: statuses are kept 10 days."""
        with self.store.lock:
            self.process_due()
            a = self.activities.get(activity_id)
            if a is None or not self._retained(a):
                raise not_found(f"Activity {activity_id} was not found.")
            return self.render(a)

    def list_activities(self, raw_query: dict[str, str]) -> dict[str, Any]:
        """GET /activities: the last 10 days' activities, newest first, optionally of one `state`."""
        with self.store.lock:
            self.process_due()
            query, offset = _resolve_cursor(raw_query)
            limit = _int_param(query, "limit", 1, 500, 50)
            state = query.get("state")
            if state is not None and state not in LISTED_STATES:
                raise validation_error(f"state must be one of {', '.join(LISTED_STATES)}.")
            rendered = [self.render(a) for a in reversed(self.activities.values()) if self._retained(a)]
            matches = [r for r in rendered if state is None or r["state"] == state]
            page, links = _page(matches, query, offset, limit, "/v3/activities")
            return {"activities": page, **links}

    # --- the activities -------------------------------------------------------------------------

    def json_import(self, body: Any, raw: bytes) -> dict[str, Any]:
        """POST /activities/contacts_json_import: 201 `initialized`; rows are applied as the activity runs."""
        with self.store.lock:
            self._admit()
            request: ImportRequest = read_import(body, raw, self.store)

            def apply(activity: Activity, index: int, at: float) -> None:
                apply_row(
                    self.store, index, activity.items[index], request.list_ids, activity.status, activity.errors, at
                )

            status = {"person_count": 0, "error_count": 0, "correctable_count": 0, "cannot_add_to_list_count": 0}
            status["list_count"] = len(request.list_ids)
            return self._queue("contacts_json_import", request.rows, apply, status)

    def add_list_memberships(self, body: Any) -> dict[str, Any]:
        """POST /activities/add_list_memberships: adds (and so revives deleted) contacts; unsubscribed are skipped."""
        with self.store.lock:
            self._admit()
            contact_ids, lists = self._activity_request(
                body,
                "list_ids",
                max_items=MAX_LISTS,
                exists=self.store.catalog.has_list,
                sources=("contact_ids", "list_ids", "all_active_contacts", "tag_ids"),
            )

            def apply(activity: Activity, index: int, at: float) -> None:
                contact_id = activity.items[index]
                c = self.store.contacts[contact_id]
                if c.permission == "unsubscribed":
                    activity.refuse(f"Contact {contact_id} is unsubscribed and cannot be added to lists.")
                    return
                current = [] if c.deleted_at is not None else c.list_memberships
                merged = current + [x for x in lists if x not in current]
                if len(merged) > MAX_LISTS:
                    activity.refuse(f"Contact {contact_id} would exceed {MAX_LISTS} lists.")
                    return
                c.list_memberships = merged
                c.deleted_at = None
                c.update_source = "Account"
                c.updated_at = at

            status = {"error_count": 0, "list_count": len(lists)}
            return self._queue("add_list_memberships", contact_ids, apply, status)

    def taggings_add(self, body: Any) -> dict[str, Any]:
        """POST /activities/contacts_taggings_add: adds tags to the source contacts."""
        with self.store.lock:
            self._admit()
            contact_ids, tags = self._activity_request(
                body,
                "tag_ids",
                max_items=MAX_TAGGINGS,
                exists=self.store.catalog.has_tag,
                sources=("contact_ids", "list_ids", "tag_ids", "all_active_contacts"),
            )

            def apply(activity: Activity, index: int, at: float) -> None:
                contact_id = activity.items[index]
                c = self.store.contacts[contact_id]
                merged = c.taggings + [t for t in tags if t not in c.taggings]
                if len(merged) > MAX_TAGGINGS:
                    activity.refuse(f"Contact {contact_id} would exceed {MAX_TAGGINGS} tags.")
                    return
                c.taggings = merged
                c.updated_at = at

            return self._queue("contacts_taggings_add", contact_ids, apply, {"error_count": 0})

    # --- request bodies of the list and tag activities ------------------------------------------

    def _source_contacts(self, source: Any, problems: Problems, allowed: tuple[str, ...]) -> list[str]:
        """Resolve an activity `source` object to contact ids (exactly one source property allowed)."""
        if not isinstance(source, dict):
            problems.add("source is required and must be an object.")
            return []
        check_keys(source, allowed, "source.", problems)
        used = [k for k in source if k in allowed]
        if len(used) != 1:
            problems.add(f"source must contain exactly one of {', '.join(allowed)}.")
            return []
        key = used[0]
        contacts = self.store.contacts
        if key == "all_active_contacts":
            if source[key] is not True:
                problems.add("source.all_active_contacts must be true.")
            return [c.contact_id for c in contacts.values() if "active" in self.store.categories(c)]
        limits = {"contact_ids": 500, "list_ids": 50, "tag_ids": 50}
        exists: Callable[[str], bool] = {
            "contact_ids": lambda i: i in contacts,
            "list_ids": self.store.catalog.has_list,
            "tag_ids": self.store.catalog.has_tag,
        }[key]
        ids = id_list(source, key, max_items=limits[key], exists=exists, kind=key[:-1], problems=problems, min_items=1)
        if not ids:
            return []
        if key == "contact_ids":
            return ids
        attr = "list_memberships" if key == "list_ids" else "taggings"
        return [c.contact_id for c in contacts.values() if set(ids) & set(getattr(c, attr))]

    @staticmethod
    def _excluded(body: dict[str, Any], problems: Problems) -> set[str]:
        exclude = body.get("exclude")
        if exclude is None:
            return set()
        if not isinstance(exclude, dict) or not isinstance(exclude.get("contact_ids", []), list):
            problems.add("exclude must be an object with a contact_ids array.")
            return set()
        check_keys(exclude, ("contact_ids",), "exclude.", problems)
        return set(exclude.get("contact_ids", []))

    def _activity_request(
        self,
        body: Any,
        ids_key: str,
        *,
        max_items: int,
        exists: Callable[[str], bool],
        sources: tuple[str, ...],
    ) -> tuple[list[str], list[str]]:
        """Validate a bulk body {source, <ids_key>, exclude}: the target contact ids and the ids to add to them."""
        problems = Problems()
        if not isinstance(body, dict):
            raise validation_error("The request body must be a JSON object.")
        check_keys(body, ("source", ids_key, "exclude"), "", problems)
        targets = self._source_contacts(body.get("source"), problems, sources)
        ids = id_list(
            body, ids_key, max_items=max_items, exists=exists, kind=ids_key[:-1], problems=problems, min_items=1
        )
        excluded = self._excluded(body, problems)
        problems.raise_if_any()
        return [i for i in targets if i not in excluded], list(ids or [])
