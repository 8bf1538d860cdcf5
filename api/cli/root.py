"""The `kvit` app: its commands and groups, and `main`, which turns whatever stops a command
into one line on stderr (the traceback only with --debug)."""

from __future__ import annotations

import os
import sys

import typer

try:  # typer >= 0.20 carries its own copy of click
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover
    from click import ClickException  # type: ignore[assignment]  # typer < 0.20: the same class

from api.cli import demo, mail, notices, server, writer
from api.cli.acquirer import acquirer_cli
from api.cli.audit import audit_cli
from api.cli.console import err
from api.cli.errors import describe
from projections.cli import register as register_projection_commands

cli = typer.Typer(help="Kvit: an event-sourced payment ledger for ЖКУ.", no_args_is_help=True)
# Typer lists commands in the order they are added, then the groups.
cli.command()(server.migrate)
cli.command()(server.serve)
cli.command(hidden=True)(writer.writer)
cli.command()(server.token)
cli.command("secrets")(server.new_secrets)
cli.command()(mail.mail)
register_projection_commands(cli)  # `kvit project` and `kvit projections …`
cli.add_typer(audit_cli, name="audit")
cli.command("demo")(demo.demo)
cli.add_typer(notices.notices_cli, name="notices")
cli.add_typer(acquirer_cli, name="acquirer")


@cli.callback()
def root(
    debug: bool = typer.Option(
        False, "--debug", help="show the traceback of an error (anywhere on the command line)"
    ),
) -> None:
    """Kvit: an event-sourced payment ledger for ЖКУ."""


def main(argv: list[str] | None = None) -> None:
    """Errors are caught once, here: one line on stderr, the traceback only with --debug."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    args = [a for a in args if a != "--debug"]
    command = typer.main.get_command(cli)
    try:
        code = command.main(args=args, prog_name="kvit", standalone_mode=False)
    except ClickException as error:  # usage errors: click's own short message
        error.show()
        sys.exit(error.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err.print("aborted")
        sys.exit(130)
    except BrokenPipeError:  # `kvit … | head`: the reader has gone, which is fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(141)  # as a shell reports it (128 + SIGPIPE)
    except Exception as error:
        if debug:
            raise
        err.print(f"kvit: {describe(error)}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
