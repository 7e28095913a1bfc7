"""levelbot: a technical-analysis signal bot with backtests and Alpaca paper trading."""

__version__ = "0.1.0"
