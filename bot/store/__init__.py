"""Durable state of a paper run: the SQLite store (state), the order records it gives
back (records), its schema, new files and upgrades (schema), the one-runner lock (lock)
and the saved halts (halts)."""
