"""Watching levels without trading: `bot replay` (a past day, minute by minute) and, next,
`bot watch` (live). pipeline.py sees one symbol's minutes, alerts.py says it, replay.py
drives a day."""
