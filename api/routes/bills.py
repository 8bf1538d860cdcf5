"""A bill's ГОСТ Р 56042 payment QR code: SVG (default), PNG, or the payload as text; and what
a scanned code would pay.

Whoever holds a bill's ИПД holds the bill itself, so any signed-in caller may ask for its code;
the code carries no more than the printed bill. Guessing at ИПДs, or at accounts through a
scanned code, is probing: a resident's look-ups count toward the link limit
(api/link_attempts.py), and only one that names a bill it finds is given back.
"""

from __future__ import annotations

import io
from functools import partial
from typing import Annotated, Literal

import segno
from fastapi import APIRouter, Query, Response

from api.account_access import sees_bill
from api.deps import CallerDep, LedgerDep, LinkAttemptsDep, ReadDep
from api.link_attempts import Attempt, document_subject, qr_subject
from api.problems import responses
from api.schemas.payments import PayeeOut, QrResolveBody
from ledger.domain.identifiers import parse_document_id
from ledger.qr.bill import bill_qr_payment
from ledger.qr.payee import payee_from_qr
from ledger.qr.payload import build_payload, encode_payload, parse_payload

router = APIRouter(tags=["bills"])
MEDIA = {"svg": "image/svg+xml", "png": "image/png", "text": "text/plain; charset=utf-8"}


@router.get(
    "/v1/bills/{document_id}/qr",
    responses={
        **responses(401, 404, 422, 429),
        200: {"content": {m: {} for m in MEDIA.values()}, "description": "The QR code"},
    },
)
def bill_qr(
    document_id: str,
    caller: CallerDep,
    ledger: LedgerDep,
    read_models: ReadDep,
    attempts: LinkAttemptsDep,
    format: Annotated[Literal["svg", "png", "text"], Query()] = "svg",
    encoding: Annotated[Literal["utf-8", "cp1251"], Query()] = "utf-8",
) -> Response:
    """`ST00012` UTF-8 by default; `encoding=cp1251` gives `ST00011` for older bank apps. An
    unknown ИПД counts toward a resident's link limit (then 429 `link_attempts_exceeded`)."""
    document_id = parse_document_id(document_id)
    # The cabinet shows a proven resident's own bills' codes: those cost no count (nor a 429).
    seen = sees_bill(read_models, caller, document_id)
    attempt = Attempt() if seen else attempts.admit(caller, document_subject(document_id))
    payment = ledger.read(partial(bill_qr_payment, document_id=document_id))
    attempts.give_back(attempt)
    text = build_payload(payment, encoding=encoding)
    if format == "text":
        return Response(text, media_type=MEDIA["text"])
    out = io.BytesIO()
    qr = segno.make(encode_payload(text), mode="byte", error="m")
    if format == "png":
        qr.save(out, kind="png", scale=4, border=4)
    else:
        qr.save(out, kind="svg", scale=4, border=4, xmldecl=False)
    return Response(out.getvalue(), media_type=MEDIA[format])


@router.post("/v1/qr:resolve", response_model=PayeeOut, responses=responses(401, 404, 422, 429))
def resolve_qr(
    body: QrResolveBody, caller: CallerDep, ledger: LedgerDep, attempts: LinkAttemptsDep
) -> PayeeOut:
    """What a scanned payload would pay, without paying: the supplier, account, bill and
    amount, or the problem that paying it would meet (old requisites, unknown account, …).
    It tells what an unproven link tells, so for a resident it counts toward the same limits
    (then 429 `link_attempts_exceeded`), unless the code names a bill of the account (its ИПД,
    printed on the bill) and that bill is found."""
    subject = qr_subject(parse_payload(body.qr_payload))  # a broken code probes nothing
    attempt = attempts.admit(caller, subject)
    payee = ledger.read(partial(payee_from_qr, payload=body.qr_payload))
    if payee.document_id is not None:
        attempts.give_back(attempt)
    return PayeeOut.model_validate(payee.view())
