"""`python -m bot` is the same as the `bot` command."""

from bot.entry import main

main()
