"""The domain: aggregates (one module each, with its events) and the values they are made of
(amounts, identifiers, postings, ids). It imports nothing of the engine or the contexts."""

from ledger.domain.account import PersonalAccount
from ledger.domain.bill import Bill
from ledger.domain.idempotency import IdempotencyRecord
from ledger.domain.notice import BankNotice
from ledger.domain.payment import Payment, PaymentStatus
from ledger.domain.supplier import Requisites, Supplier
from ledger.domain.top_up import TopUp, TopUpStatus
from ledger.domain.wallet import Wallet

__all__ = [
    "BankNotice",
    "Bill",
    "IdempotencyRecord",
    "Payment",
    "PaymentStatus",
    "PersonalAccount",
    "Requisites",
    "Supplier",
    "TopUp",
    "TopUpStatus",
    "Wallet",
]
