"""The `bot` command.

entry: the entry point (signals first, then the CLI); main: the assembled app, run_app;
common: the typer app, user_errors, --config, read_settings; run: signals, backtest,
paper, emulator; operate: logs, status, halt, resume; tools: config, sweep.
"""
