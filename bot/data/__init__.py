"""Market data: bars from CSV files, validated (load), NYSE sessions (calendar) and
bar lengths (timeframe)."""
