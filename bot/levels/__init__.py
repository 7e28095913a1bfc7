"""`bot levels suggest`: support and resistance levels suggested from swing highs and lows.

pivots.py finds the swings, suggest.py clusters them into levels and measures each one,
report.py writes the table, the TOML snippet and the JSON, chart.py draws the PNG. Every
level as of bar t is computed from bars at or before t only (no look-ahead). Imports
numpy, rich and matplotlib, never a broker, a strategy or the engine.
"""
