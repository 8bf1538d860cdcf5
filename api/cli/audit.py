"""`kvit audit …`: the auditor's toolkit on the command line.

kvit audit follow        extend the hash chain as events are committed; sign checkpoints
kvit audit checkpoint    catch the chain up and sign a checkpoint now (--out FILE to keep it)
kvit audit verify        walk the whole log against the chain and the signed checkpoints
                         (--from URL: a deployment's log, from the tiles it serves)
kvit audit replay        rebuild every read model beside the live ones and compare
kvit audit export DIR    the log as JSON Lines, with the checkpoints
kvit audit balance       an account's, wallet's or ledger account's balance --as-of POS|TIME
kvit audit keygen        write a new signing key and print its public key
kvit audit public-key    the key checkpoints are signed with, and the log's verifier key
kvit audit build-tree    build the Merkle tree for a log chained before it existed
kvit audit witness       cosign a log's checkpoints that are consistent with the last one seen
"""

from __future__ import annotations

import typer

from api.cli import audit_chain, audit_checks, audit_history, audit_witness

audit_cli = typer.Typer(
    help="Auditors: hash chain, signed checkpoints, verify, replay, export.",
    no_args_is_help=True,
)
audit_cli.command()(audit_chain.follow)
audit_cli.command()(audit_chain.keygen)
audit_cli.command()(audit_chain.checkpoint)
audit_cli.command("public-key")(audit_chain.public_key)
audit_cli.command("build-tree")(audit_chain.build_tree_command)
audit_cli.command("witness")(audit_witness.witness)
audit_cli.command("verify")(audit_checks.verify_command)
audit_cli.command()(audit_checks.replay)
audit_cli.command("export")(audit_history.export_command)
audit_cli.command()(audit_history.balance)
