"""The dashboard's AppKeys (on the dashboard sub-application; the store, the relay's
configuration and metrics are the relay's own keys in relay/keys.py, reached through
``request.config_dict``)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from ..accounts import AccountStore
from ..warning_pass import WarningPass
from .config import DashboardConfig

DCONFIG = web.AppKey("dashboard_config", DashboardConfig)
ACCOUNTS = web.AppKey("accounts", AccountStore)
WARNINGS = web.AppKey("warning_pass", WarningPass)
WARNING_TASK = web.AppKey("warning_task", asyncio.Task)  # type: ignore[type-abstract]
WARMER_TASK = web.AppKey("warmer_task", asyncio.Task)  # type: ignore[type-abstract]
CACHE = web.AppKey("cache", dict)
