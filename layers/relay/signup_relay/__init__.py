"""signup-relay: form sign-up webhooks in, correct Constant Contact contacts out."""

__version__ = "0.1.0"
