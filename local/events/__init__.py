"""The form-builder sample events in events/: their payloads, how each is built and signed, and the demo account.

`python -m local.events` rewrites them; local/README.md says what each module holds. Nothing here imports
signup_relay: the signers are an independent implementation of each scheme, so the tests that verify these events
with signup_relay.receive.sources cross-check both.
"""
