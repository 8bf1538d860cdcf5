"""Reading bank notices: one notice with its matching, for operators and auditors, the posting
bank's operator and the operator of the supplier it paid."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from api.deps import MinPositionDep, NoticeReaderDep, ReadDep
from api.operator_scopes import require_in_scope
from api.problems import NotFoundProblem, responses
from api.schemas.matching import ReceiptOut
from projections import receipts

router = APIRouter(prefix="/v1/notices", tags=["notices"])


@router.get("/{notice_id}", response_model=ReceiptOut, responses=responses(403, 404, 422, 503))
def get_notice(
    notice_id: UUID, caller: NoticeReaderDep, read_models: ReadDep, min_position: MinPositionDep = 0
) -> ReceiptOut:
    """The notice as accepted (references, amount, commission), whether it is annulled
    (`status`), and its matching: `match_status` and the bill lines it paid."""
    found = receipts.notice(read_models, notice_id, min_position=min_position)
    if found is None:
        require_in_scope(caller)  # a scoped operator learns nothing of what exists elsewhere
        raise NotFoundProblem(f"no bank notice {notice_id}", notice_id=str(notice_id))
    require_in_scope(caller, bank_bik=found.bank_bik, supplier_id=found.supplier_id)
    return ReceiptOut.model_validate(found)
