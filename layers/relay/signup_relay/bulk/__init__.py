"""Bulk path (docs/architecture.md §11): many queued sign-ups through contacts_json_import, verified afterwards.

`apply_in_bulk` is the one entry point; modules: `plan` (who goes how), `rows` (import rows), `state` (which
addresses are deleted or unsubscribed), `activity` (send and poll imports), `verify` (read back what landed).
"""

from signup_relay.bulk.apply import apply_in_bulk
from signup_relay.bulk.results import BulkPath, BulkResult, BulkRun

__all__ = ["BulkPath", "BulkResult", "BulkRun", "apply_in_bulk"]
