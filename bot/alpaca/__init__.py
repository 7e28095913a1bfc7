"""The only package that imports alpaca-py: hardened clients and plain-data results,
and the client-side request limit they share (ratelimit)."""
