"""The document store on PostgreSQL (asyncpg), for the county relay and the tiers above it.

Built so far: the schema and its numbered migrations (``migrate.py``, ``schema/``). The
``DocumentStore`` on top of them is the next step (docs/decisions.md, 2026-12-03).
"""
