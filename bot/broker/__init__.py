"""Brokers the engine talks to: the `Broker` contract, the simulated broker of
backtests (sim), the one order-matching loop (matching), a symbol's view of a shared
account (shared), and `LiveBroker` on an Alpaca account (live, protection)."""
