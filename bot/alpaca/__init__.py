"""The only package that imports alpaca-py: hardened clients and plain-data results.

trading.py   AlpacaApi, the trading calls (orders, account, clock, calendar, position)
marketdata.py  AlpacaMarketData, split-adjusted bars from the data API
stream.py    TradeUpdates, the trade-updates WebSocket in a thread, as StreamEvents
orders.py    BrokerOrder, an Alpaca order as plain data, read from alpaca-py's Order
session.py   what every request gets: time-outs, the rate limit, no SDK retry
errors.py    alpaca-py/HTTP failures translated to the broker errors of bot.broker.sim
ratelimit.py the client-side request limit the clients share
"""
