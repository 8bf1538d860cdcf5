"""The domain: aggregates (one module each, with its events) and the values they are made of
(amounts, identifiers, postings, ids). It imports nothing of the engine or the contexts."""

from ledger.domain.account import PersonalAccount
from ledger.domain.bill import Bill
from ledger.domain.card_checkout import CardCheckout
from ledger.domain.idempotency import IdempotencyRecord
from ledger.domain.notice import BankNotice
from ledger.domain.payment import Payment, PaymentStatus
from ledger.domain.saved_cards import SavedCards
from ledger.domain.supplier import Requisites, Supplier
from ledger.domain.top_up import TopUp, TopUpStatus
from ledger.domain.wallet import Wallet

__all__ = [
    "BankNotice",
    "Bill",
    "CardCheckout",
    "IdempotencyRecord",
    "Payment",
    "PaymentStatus",
    "PersonalAccount",
    "Requisites",
    "SavedCards",
    "Supplier",
    "TopUp",
    "TopUpStatus",
    "Wallet",
]
