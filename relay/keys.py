"""Every aiohttp AppKey of the relay, in one place."""

from __future__ import annotations

import weakref

from aiohttp import web

from store import DocumentStore
from sync.transport_ws import WsTransport

from .ca import CountyCA
from .config import RelayConfig
from .enrol import TokenStore
from .metrics import Metrics

CONFIG = web.AppKey("config", RelayConfig)
STORE = web.AppKey("store", DocumentStore)
SESSIONS = web.AppKey("sessions", weakref.WeakSet[WsTransport])
METRICS = web.AppKey("metrics", Metrics)
CA = web.AppKey("ca", CountyCA)
TOKENS = web.AppKey("tokens", TokenStore)
TLS = web.AppKey("tls", bool)  # False only in --insecure development mode
