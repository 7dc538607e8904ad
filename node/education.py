"""Legal-education content (普法) published by the county, and screenings held in the
village (审理一案，教育一片)."""

from __future__ import annotations

from store import Store, kinds
from store.kinds import ContentItem, Screening
from store.records import SCREENING

from .config import NodeConfig


class EducationService:
    def __init__(self, store: Store, config: NodeConfig) -> None:
        self._store = store
        self._cfg = config

    async def search(self, query: str = "", *, topic: str | None = None,
                     limit: int = 100) -> list[ContentItem]:
        rows = await self._store.views.content(topic=topic, words=query.lower().split(),
                                               limit=limit)
        return [kinds.read_content(r[0], await self._store.read(r[0])) for r in rows]

    async def topics(self) -> list[tuple[str, int]]:
        return await self._store.views.content_topics()

    async def get(self, doc_id: str) -> ContentItem:
        return kinds.read_content(doc_id, await self._store.read(doc_id))

    async def record_screening(self, *, date: str, place: str, items: list[str],
                               attendance: int, notes: str = "") -> Screening:
        by = self._cfg.director or self._cfg.node_id
        meta = await self._store.create(
            SCREENING, self._cfg.scope,
            lambda doc: kinds.new_screening(doc, date=date, place=place, items=items,
                                            attendance=attendance, notes=notes, by=by))
        return kinds.read_screening(meta.doc_id, await self._store.read(meta.doc_id))

    async def screenings(self, *, limit: int = 100) -> list[Screening]:
        ids = await self._store.views.screenings(limit=limit)
        return [kinds.read_screening(i, await self._store.read(i)) for i in ids]
