"""The read side applies payments to bills by the ledger's one rule (ledger/domain/allocation.py):
the write side defaults a payment's amount by the same function, so what a resident is shown as
due is what a payment without an amount takes."""

from ledger.domain.allocation import (
    PAID,
    PARTIALLY_PAID,
    UNPAID,
    WITHDRAWN,
    BillInput,
    allocate,
    bill_status,
)

__all__ = ["PAID", "PARTIALLY_PAID", "UNPAID", "WITHDRAWN", "BillInput", "allocate", "bill_status"]
