"""The `bot` command: its entry point (entry) and the typer commands (main)."""
