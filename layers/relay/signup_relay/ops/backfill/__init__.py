"""`make backfill` (`python -m signup_relay.ops.backfill`): bring past form submissions into Constant Contact.

Modules: `reading` (CSV / JSONL rows), `mapping` (row -> Signup, as live deliveries map), `apply` (the bulk core or
the per-contact path), `checkpoint` (what is applied, resumable), `report` (summary and failed-rows file), `run`
(the loop), `cli` (flags, wiring). docs/architecture.md §13 describes the design.
"""
