"""The document store on PostgreSQL (asyncpg), for the county relay and the tiers above it.

``store.py``: ``PgStore``, the ``DocumentStore`` (docs/architecture.md); ``migrate.py`` and
``schema/``: its numbered migrations; ``errors.py``: server errors as the store's own.
Its named queries (``views``) and the relay's wiring are the next steps.
"""
