"""PostgreSQL errors as the store's own (store/errors.py): the same stable codes as the
SQLite backend's ``db.translate``, chosen by SQLSTATE class; what the server said stays in
the message and ``details["sqlstate"]``. The DSN's password never appears: only the
database's name (``where``) is said."""

from __future__ import annotations

import asyncpg

from ..errors import (
    NotAStore,
    StoreError,
    StoreFull,
    StoreInternal,
    StoreIOError,
    StoreLocked,
    StoreReadOnly,
)

# SQLSTATE -> class (exact codes first, then the two-character class).
_LOCKED = {"40P01", "55P03", "40001", "57014"}  # deadlock, lock timeout, serialization, timeout
_FULL = {"53100", "54000"}  # disk full; program limit exceeded
_READONLY = {"25006", "42501"}  # read-only transaction; insufficient privilege
_NOT_A_STORE = {"3D000", "42P01", "3F000"}  # no such database, no such table, no schema
_IO_CLASSES = {"08", "53", "57", "58", "XX"}  # connection, resources, operator, system
_READONLY_CLASSES = {"28"}  # authorisation


def translate(exc: BaseException, where: str) -> StoreError:
    """The StoreError that an asyncpg (or connection) error means."""
    if isinstance(exc, StoreError):
        return exc
    state = getattr(exc, "sqlstate", None) or ""
    details = {"database": where, "sqlstate": state or type(exc).__name__}
    if state in _LOCKED:
        return StoreLocked(f"store {where} is locked by another program: {exc}", **details)
    if state in _FULL:
        return StoreFull(f"the disk of store {where} is full: {exc}", **details)
    if state in _READONLY or state[:2] in _READONLY_CLASSES:
        return StoreReadOnly(f"store {where} cannot be written: {exc}", **details)
    if state in _NOT_A_STORE:
        return NotAStore(f"{where} is not a villagecourt store: {exc}", **details)
    if state[:2] in _IO_CLASSES or isinstance(exc, (OSError, asyncpg.InterfaceError)):
        return StoreIOError(f"reaching store {where} failed: {exc}", **details)
    return StoreInternal(f"store {where}: PostgreSQL error {details['sqlstate']}: {exc}",
                         **details)
