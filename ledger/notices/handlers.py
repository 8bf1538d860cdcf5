"""Bank notices: resolve a notice to a personal account, post it, and annul it.

A notice moves money like a payment: `bank:<bik>:clearing` → the supplier's payable for the
account, and the account's sub-ledger counts it as paid (against the named bill, if any). It
is naturally idempotent: its id is (posting bank, OrderID), so the same notice again is a
`duplicate` and the same OrderID with other content a `NoticeConflictError`; an OrderID that
names its bank is posted for that bank only (`check_bank`), so one payment has one id. An
annulment is a new event that reverses the postings. The commands are in
`ledger/notices/commands.py`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import fields
from typing import Any, Protocol, TypeVar
from uuid import UUID

import orjson
from eventsourcing.domain import Aggregate

from ledger.domain import BankNotice, Bill, PersonalAccount, Supplier
from ledger.domain.els_index import ElsIndex
from ledger.domain.identifiers import digits, parse_bank_bik
from ledger.engine.command import Handlers
from ledger.engine.unit_of_work import UnitOfWork
from ledger.errors import (
    BankMismatchError,
    BillStateConflictError,
    NoticeConflictError,
    NoticeStateConflictError,
    UnknownAccountError,
    UnknownBillError,
    UnknownNoticeError,
    UnknownSupplierError,
)
from ledger.notices.commands import AnnulNotice, NoticeResult, ReceiveNotice
from ledger.notices.line import NoticeLine
from ledger.qr.payee import check_requisites

A = TypeVar("A", bound=Aggregate)


class Finder(Protocol):
    """Where a notice's account, bill and supplier are looked up: a unit of work, or a bulk
    import's read-only view of a whole batch (ledger/notices/bulk.py)."""

    def find(self, cls: type[A], aggregate_id: UUID) -> A | None: ...


def bank_of(order_id: str) -> str | None:
    """The posting bank's БИК as a bank's OrderIDs carry it (`1` + БИК + …), or None (another
    prefix is another kind of payee, whose OrderID names no bank)."""
    candidate = order_id[1:10]
    return candidate if order_id[:1] == "1" and digits(candidate, 9) else None


def check_bank(bank_bik: str, order_id: str) -> None:
    """An OrderID that names its bank is that bank's alone: the same one posted for another
    bank would be a second notice (another id, another clearing account) for one payment."""
    named = bank_of(order_id)
    if named is not None and named != bank_bik:
        raise BankMismatchError(
            f"OrderID {order_id} is bank {named}'s, not {bank_bik}'s",
            order_id=order_id,
            bank_bik=bank_bik,
            order_bank_bik=named,
        )


_CONTENT = tuple(f.name for f in fields(NoticeLine) if f.name != "line_no")


def fingerprint(line: NoticeLine) -> str:
    """The notice's content: what makes a re-sent line a duplicate rather than a conflict."""
    content = [getattr(line, name) for name in _CONTENT]  # every field but the line number
    return hashlib.sha256(orjson.dumps(content)).hexdigest()


def receive_notice(cmd: ReceiveNotice, uow: UnitOfWork) -> NoticeResult:
    seen = uow.find(BankNotice, cmd.notice_id)
    content = check_receive(cmd, seen)
    if seen is not None:
        return {"notice_id": str(seen.id), "outcome": "duplicate"}
    account, supplier, bill_id = resolve(uow, cmd.line)
    notice = uow.add(BankNotice(**accepted_fields(cmd, account, supplier, bill_id, content)))
    account.receive_payment(payment_id=notice.id, bill_id=bill_id, amount=notice.amount)
    return {"notice_id": str(notice.id), "outcome": "accepted", "account_id": str(account.id)}


class Seen(Protocol):
    """A notice already accepted, as far as a re-sent line is concerned."""

    @property
    def fingerprint(self) -> str: ...


def check_receive(cmd: ReceiveNotice, seen: Seen | None) -> str:
    """The notice's fingerprint, once the line may be posted for its bank and, if the notice
    was `seen` before, has the same content (a duplicate); else the named error."""
    # Checked here, not where the БИК was found (`?bank=`, the OrderID, a register's
    # `--bank`): every way in meets it, and no notice credits money from a bank that is not.
    parse_bank_bik(cmd.bank_bik)
    line = cmd.line
    check_bank(cmd.bank_bik, line.order_id)
    content = fingerprint(line)
    if seen is not None and seen.fingerprint != content:
        raise NoticeConflictError(
            f"OrderID {line.order_id} of bank {cmd.bank_bik} was accepted with other content",
            order_id=line.order_id,
            bank_bik=cmd.bank_bik,
        )
    return content


def accepted_fields(
    cmd: ReceiveNotice,
    account: PersonalAccount,
    supplier: Supplier,
    bill_id: UUID | None,
    content: str,
) -> dict[str, Any]:
    """What a new notice records (`BankNotice.Accepted`'s fields): one place for the command
    and for a register's bulk import."""
    line = cmd.line
    assert line.amount is not None
    return {
        "bank_bik": cmd.bank_bik,
        "order_id": line.order_id,
        "order_date": line.order_date.isoformat(),
        "amount": line.amount,
        "commission": line.commission,
        "payer": line.payer,
        "supplier_id": supplier.id,
        "account_id": account.id,
        "bill_id": bill_id,
        "document_id": line.document_id,
        "period": line.period,
        "purpose": line.purpose,
        "references": references(line),
        "fingerprint": content,
        "postings": BankNotice.postings_for(
            bank_bik=cmd.bank_bik,
            supplier_id=supplier.id,
            account_id=account.id,
            amount=line.amount,
        ),
    }


def annul_notice(cmd: AnnulNotice, uow: UnitOfWork) -> NoticeResult:
    notice = uow.find(BankNotice, cmd.record_id)
    if not check_annul(cmd, notice):
        assert notice is not None
        return {"notice_id": str(notice.id), "outcome": "duplicate"}
    assert notice is not None
    notice.annul(annul_date=cmd.annul_date)
    account = uow.find(PersonalAccount, notice.account_id)
    assert account is not None  # a notice is only ever accepted for an existing account
    account.refund_payment(payment_id=notice.id, bill_id=notice.bill_id, amount=notice.amount)
    return {"notice_id": str(notice.id), "outcome": "annulled"}


def check_annul(cmd: AnnulNotice, notice: BankNotice | None) -> bool:
    """True if the annulment is to be made, False if it was made before (a duplicate); else
    the named error."""
    check_bank(cmd.bank_bik, cmd.order_id)
    if notice is None:
        raise UnknownNoticeError(
            f"no notice {cmd.order_id} of bank {cmd.bank_bik} to annul",
            order_id=cmd.order_id,
            bank_bik=cmd.bank_bik,
        )
    if notice.annulled_on == cmd.annul_date:
        return False
    if notice.annulled:
        raise NoticeStateConflictError(
            f"notice {cmd.order_id} was annulled on {notice.annulled_on}",
            order_id=cmd.order_id,
            annulled_on=notice.annulled_on,
        )
    return True


def check_notice_requisites(supplier: Supplier, line: NoticeLine) -> None:
    """Every requisite the notice gives must be the supplier's."""
    check_requisites(supplier, requisites(line), labels=NOTICE_FIELDS)


def resolve(
    uow: Finder,
    line: NoticeLine,
    *,
    check: Callable[[Supplier, NoticeLine], None] = check_notice_requisites,
) -> tuple[PersonalAccount, Supplier, UUID | None]:
    """The account a notice pays and the bill it names: by ИПД (that bill, following
    replacements), then supplier ИНН + number, then ИЖКУ/ЕЛС (no bill: the allocation rule
    decides). Every requisite the notice gives must be the supplier's (`check`: a bulk import
    remembers the requisites it has seen pass)."""
    account: PersonalAccount | None = None
    bill = None
    if line.document_id:
        bill = uow.find(Bill, Bill.id_for(line.document_id))
        if bill is None:
            raise UnknownBillError(f"no bill {line.document_id}", document_id=line.document_id)
        account = uow.find(PersonalAccount, bill.account_id)
    elif line.account_number and line.recipient_inn:
        account = uow.find(
            PersonalAccount, PersonalAccount.id_for(line.recipient_inn, line.account_number)
        )
    else:
        account = _by_els(uow, line)
    if account is None:
        raise UnknownAccountError(
            "no personal account matches the notice's references", **references(line)
        )
    supplier = uow.find(Supplier, account.supplier_id)
    if supplier is None:  # pragma: no cover - an account is opened only at a known supplier
        raise UnknownSupplierError("the account's supplier is unknown")
    check(supplier, line)
    if bill is not None and bill.withdrawn and bill.replaced_by is None:
        raise BillStateConflictError(
            f"bill {line.document_id} was withdrawn without replacement",
            document_id=line.document_id,
        )
    return account, supplier, None if bill is None else bill.id


def _by_els(uow: Finder, line: NoticeLine) -> PersonalAccount | None:
    els = line.els or (line.housing_id or "")[:10]
    index = uow.find(ElsIndex, ElsIndex.id_for(els))
    candidates = (
        [] if index is None else [uow.find(PersonalAccount, UUID(a)) for a in index.account_ids]
    )
    matching = [
        a
        for a in candidates
        if a is not None and (line.recipient_inn is None or a.supplier_inn == line.recipient_inn)
    ]
    if len(matching) > 1:
        raise UnknownAccountError(
            f"ЕЛС {els} has accounts at {len(matching)} suppliers; give the recipient's ИНН",
            els=els,
        )
    return matching[0] if matching else None


# The requisites a notice may give, under the register's column names.
NOTICE_FIELDS = {"inn": "recipient_inn", "kpp": "recipient_kpp"}


def requisites(line: NoticeLine) -> dict[str, str | None]:
    return {
        "inn": line.recipient_inn,
        "kpp": line.recipient_kpp,
        "bik": line.bik,
        "settlement_account": line.settlement_account,
    }


def references(line: NoticeLine) -> dict[str, str]:
    fields = ("document_id", "housing_id", "els", "account_number", "recipient_inn")
    return {name: value for name in fields if (value := getattr(line, name))}


HANDLERS = Handlers()
HANDLERS.add(ReceiveNotice, receive_notice)
HANDLERS.add(AnnulNotice, annul_notice)
