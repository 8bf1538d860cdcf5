"""The `kvit` command line (entry point `kvit = "api.cli:main"`), one module per concept:

root.py      the typer app, its command groups, and `main` (errors as one line)
server.py    migrate, serve, token
mail.py      `kvit mail`: the mail worker (e-mails to payers)
audit*.py    `kvit audit …`: the chain and its signing key, verify and replay, export and balances
demo.py      `kvit demo`
notices.py   `kvit notices import`
console.py   where commands print, and their progress bars
errors.py    one clear line for whatever stops a command
"""

from api.cli.root import main

__all__ = ["main"]
