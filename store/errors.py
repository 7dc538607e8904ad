"""Errors of the store layer.

Every error carries a stable ``code`` that the layers above (CLI, TUI, sync) act on and
translate for people; the message is for logs and developers.

    StoreError
    ├── NotAStore          the file exists but is not a villagecourt store
    ├── NewerSchema        the store was written by a newer version of villagecourt
    ├── StoreLocked        another process holds the write lock for too long
    ├── StoreFull          the disk (or SQLite's file size limit) is full
    ├── StoreReadOnly      the store file or its folder cannot be written
    ├── StoreIOError       the operating system failed to read or write the file
    ├── StoreInternal      any other SQLite error (a bug of ours: the message says which)
    ├── BadLocation        a store's location (a database URL) is not one we can open
    ├── DocNotFound        no document with that id
    ├── CorruptDoc         stored bytes do not load as an Automerge document
    └── ValidationError    a record edit breaks a domain rule (bad category, transition...)
"""

from __future__ import annotations

from typing import Any


class StoreError(Exception):
    code = "store_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.details = details


class NotAStore(StoreError):
    code = "not_a_store"


class NewerSchema(StoreError):
    code = "newer_schema"


class StoreLocked(StoreError):
    code = "store_locked"


class StoreFull(StoreError):
    code = "store_full"


class StoreReadOnly(StoreError):
    code = "store_readonly"


class StoreIOError(StoreError):
    code = "store_io"


class StoreInternal(StoreError):
    code = "store_internal"


class BadLocation(StoreError):
    code = "bad_location"


class DocNotFound(StoreError):
    code = "doc_not_found"


class CorruptDoc(StoreError):
    code = "corrupt_doc"


class ValidationError(StoreError):
    """A domain rule was broken. ``code`` is specific (e.g. ``bad_transition``) and
    ``details`` holds the values needed to say it in Chinese or English."""

    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(message, **details)
        self.code = code
