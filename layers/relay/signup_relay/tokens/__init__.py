"""OAuth tokens of the Constant Contact accounts: the reader (upsert), the token endpoint, the secret store and
the single writer (TokenRefreshFunction)."""
