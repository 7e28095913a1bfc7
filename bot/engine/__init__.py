"""The engine: the one bar step (`core.Engine`) and what it is made of.

Fills are booked (booking), positions and cash kept (portfolio), signals sized
(risk), orders checked (guards), the trading state held (tradingstate), a live
broker's answers handled (exits), a run on an account started (recovery, livestep).
Backtests (backtest) and signal scans (scan) drive the same step.
"""
