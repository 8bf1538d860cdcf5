"""A payment that names someone else's account is a probe of it (api/link_attempts.py).

`POST /v1/payments` names an account as a link does, and its answer tells whether the account
exists (404 `unknown_account`) and what it owes (the amount of a payment made without one).
The answers cannot be made alike: a payment to an account that does not exist must be refused,
never taken. So a resident's payment counts toward the link limits, per payer and per account,
before anything is looked up; except where it tells nothing new:
- the payer is linked to the account already (they see what it owes): not counted;
- the payment names a bill by its ИПД and the bill is the account's (the bill is in hand):
  given back once the payment is made.
"""

from __future__ import annotations

from uuid import UUID

from starlette.concurrency import run_in_threadpool

from api.auth import Caller, Role
from api.link_attempts import Attempt, LinkAttempts, account_id_subject, qr_subject
from api.schemas.payments import CreatePaymentBody
from ledger.application import Ledger
from ledger.domain import PersonalAccount
from ledger.domain.identifiers import parse_account_number, parse_inn
from ledger.domain.payment import PaymentView
from ledger.qr.payload import parse_payload
from projections.known_links import KnownLinks


def named_account(body: CreatePaymentBody) -> tuple[str | None, UUID | None]:
    """What the payment names, as a probe subject (None: no account, so it is refused), and
    the account's id where it is known before any look-up (a scanned code may name only an
    ИПД). A malformed ИНН or number is refused here, before anything is counted."""
    if body.qr_payload is not None:
        qr = parse_payload(body.qr_payload)
        if qr.inn is not None and qr.account_number is not None:
            return qr_subject(qr), PersonalAccount.id_for(qr.inn, qr.account_number)
        return qr_subject(qr), None
    inn = body.recipient.inn if body.recipient is not None else body.supplier_inn
    account_id = body.account_id
    if inn is not None and body.account_number is not None:
        number = parse_account_number(body.account_number)
        account_id = PersonalAccount.id_for(parse_inn(inn), number)
    return (None, None) if account_id is None else (account_id_subject(account_id), account_id)


def linked(ledger: Ledger, links: KnownLinks, payer_id: str, account_id: UUID) -> bool:
    """Whether the payer is linked to the account (with proof or without), by the account's
    own state: the store read that `admit_payment` makes only for a link not known yet."""
    account = ledger.read(lambda uow: uow.find(PersonalAccount, account_id))
    if account is None or payer_id not in account.payer_ids:
        return False
    links.add(payer_id, account_id)
    return True


async def admit_payment(
    attempts: LinkAttempts,
    ledger: Ledger,
    links: KnownLinks,
    caller: Caller,
    body: CreatePaymentBody,
) -> Attempt:
    """Count a resident's payment as a probe unless it names an account they are linked to;
    over a limit, 429 `link_attempts_exceeded` before anything is looked up. A link this
    worker has seen (projections/known_links.py) answers on the loop, with no read: the
    payment of one's own account, the common case. Any other goes to a thread, where the
    account's own state says whether it is linked (a link made through another worker, just
    now, is there) and, if not, the probe is counted."""
    subject, account_id = named_account(body)
    if subject is None or caller.role != Role.RESIDENT or caller.payer_id is None:
        return Attempt()
    if account_id is not None and links.known(caller.payer_id, account_id):
        return Attempt()
    return await run_in_threadpool(
        count_unless_linked, attempts, ledger, links, caller, subject, account_id
    )


def count_unless_linked(
    attempts: LinkAttempts,
    ledger: Ledger,
    links: KnownLinks,
    caller: Caller,
    subject: str,
    account_id: UUID | None,
) -> Attempt:
    assert caller.payer_id is not None
    if account_id is not None and linked(ledger, links, caller.payer_id, account_id):
        return Attempt()
    return attempts.admit(caller, subject)


def give_back_if_proven(attempts: LinkAttempts, attempt: Attempt, payment: PaymentView) -> None:
    """A payment made for a bill named by its ИПД proved the bill was in hand: it probed
    nothing (the ledger refuses an ИПД that is not the account's)."""
    if payment["document_id"] is not None:
        attempts.give_back(attempt)
