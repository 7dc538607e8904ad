"""The dashboard's gauges on the relay's /metrics (Prometheus text format).

relay/app.py renders the sync counters; this middleware appends, to that same response,
what the county dashboard knows: villages and stale villages, open warnings by rule,
consultations waiting and the oldest one's age, dashboard logins and refused logins, and
the last warning pass. (A middleware, because relay/metrics.py has no hook for gauges
that need a query; see docs/dashboard.md.)
"""

from __future__ import annotations

import datetime as dt
from typing import Awaitable, Callable

from aiohttp import web

from store.records import CONSULTATION, WARNING

from .. import keys as relay_keys
from . import queries as q
from .keys import ACCOUNTS, DCONFIG, WARNINGS

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def dashboard_gauges(dash: web.Application, relay: web.Application) -> str:
    store = relay[relay_keys.STORE]
    county = relay[relay_keys.CONFIG].county
    cfg = dash[DCONFIG]
    now = dt.datetime.now(dt.timezone.utc)
    names = await q.village_names(store)
    seen = await q.last_seen(store, county)
    codes = set(names) | set(seen)
    stale = sum(q.is_stale(seen.get(c), now, cfg.stale_after_hours) for c in codes)
    by_status = await store.views.status_counts(WARNING)
    waiting = await q.waiting(store, limit=1, now=now)
    n_waiting = (await store.views.open_counts((CONSULTATION,))).get(CONSULTATION, 0)
    accounts = dash[ACCOUNTS]
    day = now - dt.timedelta(days=1)
    logins = accounts.count_events("login")
    failed = accounts.count_events("login_failed")
    throttled = accounts.count_events("login_throttled")
    lines = [
        "# HELP villagecourt_villages Villages known to the relay.",
        "# TYPE villagecourt_villages gauge",
        f"villagecourt_villages {len(codes)}",
        f"# HELP villagecourt_villages_stale Villages with no sync for "
        f"{cfg.stale_after_hours} h or more (or never).",
        "# TYPE villagecourt_villages_stale gauge",
        f"villagecourt_villages_stale {stale}",
        "# HELP villagecourt_warnings Risk warnings by status.",
        "# TYPE villagecourt_warnings gauge",
    ]
    for status in ("open", "acknowledged", "closed"):
        lines.append(f'villagecourt_warnings{{status="{status}"}} {by_status.get(status, 0)}')
    lines += [
        "# HELP villagecourt_consultations_waiting Consultations with no answer yet.",
        "# TYPE villagecourt_consultations_waiting gauge",
        f"villagecourt_consultations_waiting {n_waiting}",
        "# HELP villagecourt_consultation_oldest_wait_hours Age of the oldest waiting "
        "consultation.",
        "# TYPE villagecourt_consultation_oldest_wait_hours gauge",
        f"villagecourt_consultation_oldest_wait_hours "
        f"{round(waiting[0]['age_hours'], 1) if waiting else 0}",
        "# HELP villagecourt_dashboard_logins_total Dashboard logins by outcome.",
        "# TYPE villagecourt_dashboard_logins_total counter",
        f'villagecourt_dashboard_logins_total{{outcome="ok"}} {logins}',
        f'villagecourt_dashboard_logins_total{{outcome="failed"}} {failed}',
        f'villagecourt_dashboard_logins_total{{outcome="throttled"}} {throttled}',
        "# HELP villagecourt_dashboard_logins_24h Successful dashboard logins in the last "
        "24 hours.",
        "# TYPE villagecourt_dashboard_logins_24h gauge",
        f"villagecourt_dashboard_logins_24h {accounts.logins_since(day)}",
    ]
    report = dash[WARNINGS].last_report if WARNINGS in dash else None
    if report is not None:
        lines += [
            "# HELP villagecourt_warning_pass_seconds Duration of the last warning pass.",
            "# TYPE villagecourt_warning_pass_seconds gauge",
            f"villagecourt_warning_pass_seconds {report.seconds:.3f}",
            "# HELP villagecourt_warning_pass_signals Signals found by the last pass.",
            "# TYPE villagecourt_warning_pass_signals gauge",
            f"villagecourt_warning_pass_signals {len(report.signals)}",
        ]
    return "\n".join(lines) + "\n"


def metrics_middleware(dash: web.Application) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def add_gauges(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        if (request.path == "/metrics" and isinstance(response, web.Response)
                and response.status == 200 and response.text is not None):
            response.text = response.text + await dashboard_gauges(dash, request.app)
        return response

    return add_gauges
