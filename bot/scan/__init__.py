"""`bot scan UNIVERSE`: every symbol of a file against its 52-week peak, its levels and
its strategy's recent signals, on every local core or a Dask cluster.

universe.py reads the file of symbols; targets.py says what each symbol is scanned with
(the watchlist's rules and levels, or [strategy] without fixed levels); measure.py makes
one symbol's row; run.py runs them all and sorts them; report.py writes scan.csv and
scan.html and the terminal table. The command itself is bot/cli/scan.py.
"""
