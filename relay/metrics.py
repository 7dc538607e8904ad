"""Relay counters, exported at /metrics in the Prometheus text format."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Metrics:
    sessions_total: Counter[str] = field(default_factory=Counter)  # by outcome code
    sessions_active: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    docs_in: int = 0
    docs_out: int = 0
    refusals: Counter[str] = field(default_factory=Counter)  # by reason code

    def render(self, extra: dict[str, float] | None = None) -> str:
        lines = [
            "# HELP villagecourt_sessions_total Sync sessions by outcome.",
            "# TYPE villagecourt_sessions_total counter",
        ]
        for outcome, n in sorted(self.sessions_total.items()):
            lines.append(f'villagecourt_sessions_total{{outcome="{outcome}"}} {n}')
        lines += [
            "# HELP villagecourt_sessions_active Sync sessions in progress.",
            "# TYPE villagecourt_sessions_active gauge",
            f"villagecourt_sessions_active {self.sessions_active}",
            "# HELP villagecourt_sync_bytes_total Sync payload bytes by direction.",
            "# TYPE villagecourt_sync_bytes_total counter",
            f'villagecourt_sync_bytes_total{{direction="in"}} {self.bytes_in}',
            f'villagecourt_sync_bytes_total{{direction="out"}} {self.bytes_out}',
            "# HELP villagecourt_sync_docs_total Documents by direction.",
            "# TYPE villagecourt_sync_docs_total counter",
            f'villagecourt_sync_docs_total{{direction="in"}} {self.docs_in}',
            f'villagecourt_sync_docs_total{{direction="out"}} {self.docs_out}',
            "# HELP villagecourt_refusals_total Sessions or requests refused, by reason.",
            "# TYPE villagecourt_refusals_total counter",
        ]
        for reason, n in sorted(self.refusals.items()):
            lines.append(f'villagecourt_refusals_total{{reason="{reason}"}} {n}')
        for name, value in sorted((extra or {}).items()):
            lines += [f"# TYPE villagecourt_{name} gauge", f"villagecourt_{name} {value}"]
        return "\n".join(lines) + "\n"
