"""Upsert side: a queued sign-up in, a Constant Contact contact out (policy, bodies, retry or dead-letter)."""
