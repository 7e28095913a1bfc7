"""The `bot` command's entry point: signals first, then the CLI.

Before anything else: files are created owner-only (umask 077: state, logs and run
folders hold the account's orders), and Ctrl-C / SIGTERM are routed to
`bot.lifecycle.Interrupted`, so a signal even during the imports ends the command at
once with exit code 130 (SIGINT) or 143 (SIGTERM) and a last line that says what to do
next. Only the standard library and bot.lifecycle are imported before that.
"""

from __future__ import annotations

import os
import sys

from bot import lifecycle


def main() -> None:
    os.umask(0o077)
    lifecycle.install()
    try:
        from bot.cli.main import run_app

        code = run_app()
    except lifecycle.Interrupted as exc:
        sys.stdout.flush()  # what was printed comes first: the last line is this one
        print(f"\ninterrupted ({exc}): {lifecycle.hint()}", file=sys.stderr, flush=True)
        code = exc.exit_code
    sys.exit(code)


if __name__ == "__main__":
    main()
