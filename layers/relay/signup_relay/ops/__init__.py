"""Operator tools, on no Lambda path: `connect` (first authorization) and the DLQ CLI."""
