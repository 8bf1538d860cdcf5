"""Suppliers (УК/РСО): registered by the unscoped operator; read by operators, auditors, and a
supplier's own operator."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response

from api import writes
from api.deps import KeyDep, LedgerDep, OperatorDep, ReadDep, SupplierReaderDep
from api.operator_scopes import require_in_scope
from api.problems import responses
from api.schemas.common import Created
from api.schemas.suppliers import RegisterSupplierBody, SupplierList, SupplierOut
from ledger.domain import Supplier
from ledger.errors import UnknownSupplierError
from projections import models

router = APIRouter(prefix="/v1/suppliers", tags=["suppliers"])


def supplier_out(supplier: Supplier) -> SupplierOut:
    return SupplierOut(
        id=supplier.id,
        inn=supplier.inn,
        kpp=supplier.kpp,
        name=supplier.name,
        requisites=supplier.requisites,
    )


@router.post("", status_code=201, response_model=Created, responses=responses(400, 403, 409))
async def register_supplier(
    body: RegisterSupplierBody,
    caller: OperatorDep,
    key: KeyDep,
    ledger: LedgerDep,
    read_models: ReadDep,
    response: Response,
) -> Created:
    outcome = await writes.execute(ledger, body.command(idempotency_key=key, scope=caller.scope))
    await writes.read_your_writes(outcome, response, read_models, models.NAMES)
    return Created(id=outcome.result["supplier_id"])


@router.get("/{supplier_id}", response_model=SupplierOut, responses=responses(403, 404))
def get_supplier(supplier_id: UUID, caller: SupplierReaderDep, ledger: LedgerDep) -> SupplierOut:
    require_in_scope(caller, supplier_id=supplier_id)
    return supplier_out(ledger.get_supplier(supplier_id))


@router.get("", response_model=SupplierList, responses=responses(403))
def find_suppliers(
    caller: SupplierReaderDep,
    ledger: LedgerDep,
    inn: Annotated[str, Query(min_length=1, max_length=12, description="the supplier's ИНН")],
) -> SupplierList:
    """Look a supplier up by ИНН (one supplier per ИНН); an unknown ИНН gives an empty list."""
    require_in_scope(caller, supplier_id=Supplier.id_for(inn.strip()))
    try:
        return SupplierList(items=[supplier_out(ledger.find_supplier_by_inn(inn))])
    except UnknownSupplierError:
        return SupplierList(items=[])
