"""Runs on a broker account: `bot paper` (paper, runner, startup), its feeds (feeds,
feed, replay), order events between bars (stream), start-up reconciliation
(reconcile), which endpoint is allowed (endpoints) and the one retry path (retry)."""
