"""The DLQ operations tool: list dead-lettered sign-ups with their reasons, show one, replay after a fix, purge.

`entries` decodes a DLQ message, `selection` chooses and lists records, `replay` and `purge` act on them, and `cli`
is `python -m signup_relay.ops.dlq` (`make dlq ARGS=...`).
"""
