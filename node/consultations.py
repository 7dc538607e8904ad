"""Consultations with the linked judge (连线法官): the director asks on a case; the answer
is an edit of the same document by the judge and arrives by sync whenever it can."""

from __future__ import annotations

from store import Store, ValidationError, kinds
from store.kinds import Consultation
from store.records import CONSULTATION

from .cases import CaseService
from .config import NodeConfig


class ConsultationService:
    def __init__(self, store: Store, config: NodeConfig, cases: CaseService) -> None:
        self._store = store
        self._cfg = config
        self._cases = cases

    async def ask(self, case_ref: str, question: str) -> Consultation:
        case = await self._cases.get(case_ref)
        by = self._cfg.director or self._cfg.node_id
        meta = await self._store.create(
            CONSULTATION, self._cfg.scope,
            lambda doc: kinds.new_consultation(doc, case_id=case.doc_id,
                                               case_number=case.number, question=question,
                                               by=by),
        )
        return await self.get(meta.doc_id)

    async def answer(self, consultation_id: str, answer: str, *, by: str) -> Consultation:
        await self._store.edit(consultation_id,
                               lambda doc: kinds.answer_consultation(doc, answer=answer, by=by))
        return await self.get(consultation_id)

    async def get(self, doc_id: str) -> Consultation:
        meta = await self._store.meta(doc_id)
        if meta.kind != CONSULTATION:
            raise ValidationError("not_consultation", f"{doc_id} is not a consultation")
        return kinds.read_consultation(doc_id, await self._store.read(doc_id))

    async def list(self, *, status: str | None = None, case_ref: str | None = None,
                   limit: int = 100) -> list[Consultation]:
        parent = await self._cases.resolve(case_ref) if case_ref else None
        ids = await self._store.views.consultations(status=status, parent=parent, limit=limit)
        return [await self.get(i) for i in ids]

    async def newly_answered(self, *, since: str = "", limit: int = 20) -> list[Consultation]:
        """Answers that arrived, newest first (for the home screen)."""
        ids = await self._store.views.answered_since(since, limit=limit)
        return [await self.get(i) for i in ids]


