"""Market data: the columnar bar series (series), bars from CSV files (load), the
plausibility rules shared by files and broker feeds (checks), NYSE sessions (calendar)
and bar lengths (timeframe)."""
