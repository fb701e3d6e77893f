"""OAuth tokens of the Constant Contact accounts: the reader and refreshers (upsert), the token endpoint, the secret
store and the single writer (TokenRefreshFunction). The design: docs/token-refresh.md."""
