"""Alerts: what the bot tells its user, and their delivery through Apprise.

model.py (the `Alert` value type, its deterministic id, the alert kinds), channels.py
(the channels' Apprise URLs from the environment or `.env`, routes, secrets registered),
deliver.py (the `Deliverer`: a background thread that sends the outbox's rows with
backoff, a per-URL rate limit and digests). The durable outbox is the state database's
(bot/store/outbox.py). Importing this package imports nothing else: bot/settings.py
reads the kinds and channel names from model.py.
"""
