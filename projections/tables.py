"""The read-model tables: names, columns and keys, for both SQLite and PostgreSQL.

Every table is a deterministic function of the event log (no serial ids, no processing times),
so a rebuilt copy can be compared row by row with the live one. Rows carry `position`, the
notification id of the last event that changed them; the journals (`payment_event`, `posting`)
keep one row per event, which is what an "as of position" query needs.
"""

from __future__ import annotations

from storage.table import Table as Table  # re-exported: the read models name their tables

LIVE = "rm_"
SHADOW = "rb_"
TRACKING = "rm_tracking"

TYPES = {"text": ("TEXT", "TEXT"), "bigint": ("INTEGER", "BIGINT")}  # (sqlite, postgres)


def _cols(spec: str) -> tuple[tuple[str, str], ...]:
    """'a text, b bigint' -> (('a', 'text'), ('b', 'bigint'))."""
    pairs = (part.split() for part in spec.split(","))
    return tuple((name, kind) for name, kind in pairs)


ACCOUNT = Table(
    "account",
    _cols(
        "account_id text, supplier_id text, supplier_inn text, account_number text, els text,"
        " address text, accrued bigint, paid bigint, refunded bigint, due bigint,"
        " advance bigint, position bigint"
    ),
    key=("account_id",),
    indexes=(("supplier_id",),),
)
ACCOUNT_PAYER = Table(
    "account_payer",
    # proof: how the payer proved possession (document_id, operator; bill_total before issue
    # 16), or NULL
    _cols("account_id text, payer_id text, proof text, position bigint"),
    key=("account_id", "payer_id"),
    indexes=(("payer_id",),),
)
BILL = Table(
    "bill",
    _cols(
        "bill_id text, account_id text, document_id text, period text, due_date text,"
        " amount_due bigint, paid_direct bigint, applied bigint, status text, added bigint,"
        " withdrawn bigint, replaces text, replaced_by text, added_position bigint,"
        " position bigint"
    ),
    key=("bill_id",),
    indexes=(("account_id",),),
)
WALLET = Table(
    "wallet",
    _cols(
        "wallet_id text, payer_id text, balance bigint, credited bigint, debited bigint,"
        " position bigint"
    ),
    key=("wallet_id",),
    indexes=(("payer_id",),),
)
PAYMENT = Table(
    "payment",
    _cols(
        "payment_id text, payer_id text, account_id text, supplier_id text,"
        " account_number text, bill_id text, document_id text, period text, amount bigint,"
        " refunded bigint, method text, wallet_id text, recipient text, status text,"
        " failure_reason text, acquirer_ref text, created_at text, updated_at text,"
        " created_position bigint, position bigint"
    ),
    key=("payment_id",),
    indexes=(
        ("payer_id", "created_position"),
        ("account_id", "created_position"),
        ("supplier_id", "created_position"),
    ),
)
PAYMENT_EVENT = Table(
    "payment_event",
    _cols("position bigint, payment_id text, kind text, status text, amount bigint, at text"),
    key=("position",),
    indexes=(("payment_id",),),
    journal=True,
)
BILL_PERIOD = Table(
    "bill_period", _cols("bill_id text, period text, position bigint"), key=("bill_id",)
)
LEDGER_ACCOUNT = Table(
    "ledger_account",
    _cols("account text, debits bigint, credits bigint, balance bigint, position bigint"),
    key=("account",),
)
POSTING = Table(
    "posting",
    _cols("position bigint, seq bigint, account text, amount bigint"),
    key=("position", "seq"),
    indexes=(("account", "position"),),
    journal=True,
)
# --- matching (projections/models/matching.py) --------------------------------------------------
MATCH_ACCOUNT = Table(
    "match_account",
    _cols("account_id text, supplier_id text, account_number text, position bigint"),
    key=("account_id",),
)
MATCH_BILL = Table(
    "match_bill",
    _cols(
        "bill_id text, account_id text, document_id text, period text, lines text,"
        " matched text, added bigint, withdrawn bigint, replaced_by text, added_position bigint,"
        " position bigint"
    ),
    key=("bill_id",),
    indexes=(("account_id",),),
)
MATCH_RECEIPT = Table(
    "match_receipt",
    _cols(
        "receipt_id text, kind text, account_id text, supplier_id text, payer_id text,"
        " account_number text, method text, bank_bik text, order_id text, order_date text,"
        " payer_name text, purpose text, refs text, commission bigint, bill_id text,"
        " document_id text, period text, named_period text, amount bigint, reversed bigint,"
        " received bigint, status text, match_status text, matched bigint, advance bigint,"
        " lines text, created_at text, received_at text, updated_at text,"
        " created_position bigint,"
        " received_position bigint, position bigint"
    ),
    key=("receipt_id",),
    indexes=(
        ("account_id",),
        ("kind", "account_id", "created_position"),
        ("kind", "supplier_id", "created_position"),
    ),
)
MATCH_MOVE = Table(
    "match_move",
    _cols(
        "position bigint, receipt_id text, supplier_id text, account_id text, day text,"
        " kind text, channel text, amount bigint, commission bigint, at text"
    ),
    key=("position",),
    # A day's page of the register is a range of this index, however large the day.
    indexes=(("supplier_id", "day", "position"),),
    journal=True,
)
