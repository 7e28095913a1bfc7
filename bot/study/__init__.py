"""`bot study`: the track record of each level over history, by tier of event.

events.py finds the events of one symbol's bars (intraday crosses, confirmed breakouts
and breakdowns, failed breaks), crosses.py the crosses; outcomes.py measures what followed
each one and stats.py summarises them (forward returns, false-break rate, excursions,
bootstrap intervals, the all-bars baseline); run.py puts a symbol's study together;
report.py and html.py show it; baserate.py gives the "N past cases" line of an alert.

The rule of every module here: an event's inputs are bars up to its own bar, its outcome
bars after it. Nothing here trades, sends or names a strategy.
"""
