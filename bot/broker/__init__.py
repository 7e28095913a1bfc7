"""Brokers the engine talks to.

sim.py       the `Broker` contract, its errors, and SimBroker, the broker of backtests
matching.py  the one order-matching loop (SimBroker and the emulator)
shared.py    a symbol's view of an account shared by several engines
live.py      LiveBroker, the Broker contract on an Alpaca account
sending.py   its orders sent at most once and never lost, its cancels waited out
ledger.py    its record of the broker's answers: statuses, legs, fills booked once
protection.py  moving a stop when Alpaca refuses the replace
"""
