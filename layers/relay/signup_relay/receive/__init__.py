"""Receive side: a webhook delivery in, a queued sign-up out (verify -> parse -> map -> queue)."""
