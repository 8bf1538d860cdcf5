"""Named domain errors. They carry ids and amounts, never HTTP codes (api/problems.py maps them)."""

from __future__ import annotations

from typing import Any


class LedgerError(Exception):
    """Base of every error a client can cause. `code` is stable: frontends switch on it."""

    code = "ledger_error"

    def __init__(self, message: str, **data: Any) -> None:
        super().__init__(message)
        self.message = message
        self.data = data

    def __reduce__(self) -> tuple[Any, ...]:
        # Errors cross the writer's channel (ledger/engine/channel.py) by pickle, which would
        # call `type(self)(*self.args)`: wrong for subclasses with other signatures. Rebuild
        # through the base and restore every attribute instead.
        return (_rebuilt, (type(self), self.message), self.__dict__)


def _rebuilt(cls: type[LedgerError], message: str) -> LedgerError:
    error = cls.__new__(cls)
    LedgerError.__init__(error, message)
    return error


# --- identifiers and input -------------------------------------------------------------------
class InvalidIdentifierError(LedgerError):
    code = "invalid_identifier"


class InvalidInnError(InvalidIdentifierError):
    code = "invalid_inn"


class InvalidKppError(InvalidIdentifierError):
    code = "invalid_kpp"


class InvalidBikError(InvalidIdentifierError):
    code = "invalid_bik"


class InvalidAccountKeyError(InvalidIdentifierError):
    """A settlement or correspondent account whose control key does not match the БИК."""

    code = "invalid_account_key"


class InvalidUinError(InvalidIdentifierError):
    code = "invalid_uin"


class InvalidDocumentIdError(InvalidIdentifierError):
    code = "invalid_document_id"


class InvalidAccountNumberError(InvalidIdentifierError):
    code = "invalid_account_number"


class InvalidQrPayloadError(InvalidIdentifierError):
    """A ГОСТ Р 56042 payload that cannot be paid: `key` names the field, `reason` says why."""

    code = "invalid_qr_payload"


class InvalidTextError(LedgerError):
    """Free text with a control or invisible character, empty, or longer than its field holds
    (ledger/domain/text.py): `field` names it, `reason` says which."""

    code = "invalid_text"


class InvalidAmountError(LedgerError):
    code = "invalid_amount"


class InvalidCommissionError(InvalidAmountError):
    """A notice's commission that is not between zero and the notice's amount."""

    code = "invalid_commission"


class EmptyRegisterError(LedgerError):
    """A notice register with no line to import: an empty upload is a mistake, not a success."""

    code = "empty_register"


class InvalidPaymentMethodError(LedgerError):
    code = "invalid_payment_method"


class InvalidCardError(LedgerError):
    """What an acquirer reported of a card cannot be kept (e.g. a number that is not masked)."""

    code = "invalid_card"


class InvalidBillError(LedgerError):
    code = "invalid_bill"


class LinkProofMismatchError(LedgerError):
    """The ИПД or bill total given to prove possession of an account matches none of its bills.
    `field` names the part of the proof a form should mark."""

    code = "link_proof_mismatch"


# --- existence -------------------------------------------------------------------------------
class NotFoundError(LedgerError):
    code = "not_found"


class UnknownSupplierError(NotFoundError):
    code = "unknown_supplier"


class UnknownAccountError(NotFoundError):
    code = "unknown_account"


class UnknownBillError(NotFoundError):
    code = "unknown_bill"


class UnknownWalletError(NotFoundError):
    code = "unknown_wallet"


class UnknownPaymentError(NotFoundError):
    code = "unknown_payment"


class UnknownTopUpError(NotFoundError):
    code = "unknown_top_up"


class UnknownNoticeError(NotFoundError):
    code = "unknown_notice"


class UnknownSavedCardError(NotFoundError):
    code = "unknown_saved_card"


class AlreadyExistsError(LedgerError):
    code = "already_exists"


class SupplierAlreadyRegisteredError(AlreadyExistsError):
    code = "supplier_already_registered"


class AccountAlreadyOpenError(AlreadyExistsError):
    code = "account_already_open"


class BillAlreadyIssuedError(AlreadyExistsError):
    code = "bill_already_issued"


# --- rules -----------------------------------------------------------------------------------
class InsufficientFundsError(LedgerError):
    code = "insufficient_funds"


class PaymentStateConflictError(LedgerError):
    """The payment's status does not allow the command (e.g. refunding a canceled payment)."""

    code = "payment_state_conflict"


class TopUpStateConflictError(LedgerError):
    code = "top_up_state_conflict"


class BillStateConflictError(LedgerError):
    code = "bill_state_conflict"


class NoticeStateConflictError(LedgerError):
    """An annulment of a notice that is already annulled."""

    code = "notice_state_conflict"


class BankMismatchError(LedgerError):
    """A notice posted for a bank other than the one its OrderID names (`1` + БИК + …): the
    same payment under a second bank would be a second notice, credited twice."""

    code = "bank_mismatch"


class NoticeConflictError(LedgerError):
    """The same bank and OrderID with other content: a bank's error, never an overwrite."""

    code = "notice_conflict"


class RequisitesMismatchError(LedgerError):
    """Requisites (ИНН, КПП, БИК, account) that are not the supplier's registered ones."""

    code = "requisites_mismatch"


class RefundExceedsPaymentError(LedgerError):
    code = "refund_exceeds_payment"


class NothingDueError(LedgerError):
    """No amount was given and nothing is due, so there is no default to pay."""

    code = "nothing_due"


class WalletOwnershipError(LedgerError):
    """A payer tried to use a wallet that is not theirs."""

    code = "wallet_not_owned"


class OperationMismatchError(LedgerError):
    """An acquirer outcome whose amount differs from the operation's amount."""

    code = "operation_mismatch"


# --- idempotency and concurrency -------------------------------------------------------------
class IdempotencyKeyReusedError(LedgerError):
    """The same idempotency key was used earlier for a different request."""

    code = "idempotency_key_reused"


class ConcurrentUpdateError(LedgerError):
    """Version conflicts persisted after the bounded number of retries."""

    code = "concurrent_update"


class WriterUnavailableError(LedgerError):
    """The writer process (ledger/engine/writer.py) is down or restarting: nothing the client
    sent can be known to have committed, so it retries (with its idempotency key)."""

    code = "writer_unavailable"


class BatchTooLargeError(LedgerError):
    """A batch of commands is bounded, so one call cannot hold a transaction for minutes."""

    code = "batch_too_large"
