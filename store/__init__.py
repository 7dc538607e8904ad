"""store: persistence of villagecourt records (imports nothing else of ours).

What the layers above may use is re-exported here.
"""

from . import casedoc, kinds, records
from .docs import Store
from .errors import (
    BadLocation,
    CorruptDoc,
    DocNotFound,
    NewerSchema,
    NotAStore,
    StoreError,
    StoreLocked,
    ValidationError,
)
from .location import describe as describe_location
from .location import is_database_url, open_store
from .migrate import SCHEMA_VERSION
from .protocol import BlobIndex, DocumentStore, Projections
from .scopeset import ScopeSet
from .sealed import new_key
from .types import Committed, DocMeta, FeedPage, Incoming, pack_heads, unpack_heads
from .views import CaseFilter

__all__ = [
    "BadLocation", "BlobIndex", "CaseFilter", "Committed", "CorruptDoc", "DocMeta", "DocNotFound",
    "DocumentStore", "FeedPage", "Incoming", "NewerSchema", "NotAStore", "Projections",
    "SCHEMA_VERSION", "ScopeSet", "Store", "StoreError", "StoreLocked", "ValidationError",
    "casedoc", "describe_location", "is_database_url", "kinds", "new_key", "open_store",
    "pack_heads", "records", "unpack_heads",
]
