"""Constant Contact V3: the HTTP client and the name -> id directory."""
