"""Durable state of a paper run: the SQLite store (state), its schema and upgrades
(schema), the one-runner lock (lock) and the saved halts (halts)."""
