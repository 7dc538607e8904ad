"""Risk early warning (风险预警): the rules, as pure functions over weekly counts.

What it owns
    The statistics that decide whether a count of disputes is unusual, and nothing else:
    no store, no clock, no I/O. ``relay/warning_pass.py`` reads the counts from the
    projection, calls ``evaluate`` and writes the warning documents.

Rules (docs/warnings.md has the reasoning and the measured error rates)
1. ``village_spike`` — per village × category × week: the count of the week against the
   previous ``baseline_weeks`` weeks of the same village and category. The expected count
   is their mean, raised to ``min_expected`` (a village that had no land dispute for two
   months does not expect zero: it expects "rarely"). The week warns when it holds at
   least ``min_cases`` cases and the exact Poisson upper tail P(X >= observed | expected)
   is below ``alpha``.
2. ``ears_c2`` — per county × category, on the counts summed over villages: EARS C2 (the
   CDC's Early Aberration Reporting System), weekly: the mean and standard deviation of
   ``c2_baseline_weeks`` weeks ending ``c2_lag_weeks`` before the week tested (the lag
   keeps a rising outbreak out of its own baseline); the week warns when
   (observed - mean) / max(sd, c2_min_sd) exceeds ``c2_threshold``.
   ``poisson_cusum`` is the alternative (``county_rule = "cusum"``): an upper CUSUM for a
   shift from the baseline mean to mean + ``cusum_shift`` × sqrt(mean), alarming above
   ``cusum_h`` × sqrt(mean) (standardised so one setting fits small and large counties).
3. ``group_dispute`` — a case flagged 群体性 (group dispute), or whose headcount reaches
   ``group_headcount``, warns its village at once, whatever the counts.

Every rule returns a ``Signal`` saying what it saw: observed against expected and the
rule's name and statistic, so a warning can always explain itself.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Iterable, Mapping, Sequence

# Rule names (stable: stored in warning documents, translated by the dashboard).
VILLAGE_SPIKE = "village_poisson"
COUNTY_C2 = "county_ears_c2"
COUNTY_CUSUM = "county_cusum"
GROUP = "group_dispute"
RULES = (VILLAGE_SPIKE, COUNTY_C2, COUNTY_CUSUM, GROUP)

COUNTY = "*"  # the "village" of a county-level signal


@dataclass(frozen=True)
class WarningConfig:
    """Thresholds. Defaults are documented (and measured) in docs/warnings.md; a relay
    overrides them in ``<relay home>/dashboard.json`` under ``"warnings"``."""

    baseline_weeks: int = 8  # village rule: weeks before the tested one
    alpha: float = 0.002  # village rule: Poisson upper-tail probability that warns
    min_expected: float = 0.5  # village rule: floor on the expected weekly count
    min_cases: int = 3  # village rule: never warn on fewer cases than this in a week
    county_rule: str = "c2"  # "c2" (EARS C2) or "cusum"
    c2_baseline_weeks: int = 7
    c2_lag_weeks: int = 2
    c2_threshold: float = 3.0  # standard deviations above the baseline mean
    c2_min_sd: float = 1.0  # floor on the baseline sd (a flat baseline is not certainty)
    county_min_cases: int = 5  # county rules: never warn on fewer cases than this
    cusum_shift: float = 1.0  # shift to detect, in sqrt(baseline mean) units
    cusum_h: float = 5.0  # decision limit, in sqrt(baseline mean) units
    cusum_weeks: int = 4  # weeks the CUSUM accumulates over (after its baseline)
    group_headcount: int = 30  # a case with this many people warns even without the flag

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> "WarningConfig":
        """From a JSON object; unknown keys are refused (a typo must not pass silently)."""
        data = dict(data or {})
        names = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise ValueError(f"unknown warning setting(s): {', '.join(unknown)}")
        cfg = cls(**data)
        cfg.check()
        return cfg

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def check(self) -> None:
        if self.baseline_weeks < 2 or self.c2_baseline_weeks < 2:
            raise ValueError("baselines need at least 2 weeks")
        if not 0 < self.alpha < 0.5:
            raise ValueError("alpha must be between 0 and 0.5")
        if self.min_expected <= 0 or self.min_cases < 1 or self.c2_min_sd <= 0:
            raise ValueError("min_expected, min_cases and c2_min_sd must be positive")
        if self.county_rule not in ("c2", "cusum"):
            raise ValueError("county_rule must be 'c2' or 'cusum'")
        if self.group_headcount < 2:
            raise ValueError("group_headcount must be at least 2")

    @property
    def history_weeks(self) -> int:
        """Weeks of history any rule looks at before the tested week."""
        return max(self.baseline_weeks, self.c2_baseline_weeks + self.c2_lag_weeks,
                   self.baseline_weeks + self.cusum_weeks)


@dataclass(frozen=True)
class Signal:
    """One rule firing: where, what, when, and why."""

    village: str  # a village code, or COUNTY
    category: str
    week: str  # the Monday (YYYY-MM-DD) of the week that fired
    rule: str
    observed: int
    expected: float
    statistic: float  # p-value (Poisson), C2 score, CUSUM sum, or headcount (group)
    cases: tuple[str, ...] = ()  # doc ids of the cases behind a group-dispute signal


# --- the Poisson distribution ------------------------------------------------------------
def poisson_sf(k: int, lam: float) -> float:
    """P(X >= k) for X ~ Poisson(lam), exact (summed in log space, no library).

    For k above the mean the upper tail is summed directly (term by term until the terms
    stop mattering), so very small probabilities keep their precision; below the mean it
    is one minus the lower tail."""
    if k <= 0:
        return 1.0
    if lam <= 0:
        return 0.0
    log_lam = math.log(lam)

    def term(i: int) -> float:
        return math.exp(-lam + i * log_lam - math.lgamma(i + 1))

    if k > lam:
        total, i = 0.0, k
        while True:
            t = term(i)
            total += t
            if t < total * 1e-17 or i > k + 10_000:
                return min(1.0, total)
            i += 1
    lower = sum(term(i) for i in range(k))
    return max(0.0, 1.0 - lower)


# --- rule 1: village × category × week ----------------------------------------------------
def village_spike(baseline: Sequence[int], observed: int, cfg: WarningConfig
                  ) -> tuple[bool, float, float]:
    """(fires, expected, p-value) for one village × category week. ``baseline`` holds the
    previous weeks (any length; the last ``baseline_weeks`` are used)."""
    window = list(baseline)[-cfg.baseline_weeks:]
    mean = sum(window) / len(window) if window else 0.0
    expected = max(mean, cfg.min_expected)
    p = poisson_sf(observed, expected)
    return observed >= cfg.min_cases and p < cfg.alpha, expected, p


# --- rule 2: county × category ------------------------------------------------------------
def ears_c2(history: Sequence[int], observed: int, cfg: WarningConfig
            ) -> tuple[bool, float, float]:
    """(fires, expected, C2 score). ``history`` ends the week before the tested one; the
    baseline is ``c2_baseline_weeks`` weeks that end ``c2_lag_weeks`` earlier."""
    hist = list(history)
    end = len(hist) - cfg.c2_lag_weeks
    window = hist[max(0, end - cfg.c2_baseline_weeks):max(0, end)]
    if len(window) < 2:
        return False, float(observed), 0.0
    mean = sum(window) / len(window)
    sd = math.sqrt(sum((x - mean) ** 2 for x in window) / (len(window) - 1))
    # The sample sd of 7 weeks is itself noisy: floor it at the Poisson sd of the mean,
    # or a quiet baseline makes an ordinary week look like three sigmas.
    score = (observed - mean) / max(sd, math.sqrt(mean), cfg.c2_min_sd)
    return observed >= cfg.county_min_cases and score > cfg.c2_threshold, mean, score


def poisson_cusum(history: Sequence[int], observed: int, cfg: WarningConfig
                  ) -> tuple[bool, float, float]:
    """(fires, expected, CUSUM sum at the tested week). The in-control mean is the
    ``baseline_weeks`` before the last ``cusum_weeks - 1`` weeks of ``history``; the sum
    runs over those recent weeks and the tested one."""
    hist = list(history)
    recent_n = max(0, cfg.cusum_weeks - 1)
    recent = hist[len(hist) - recent_n:] if recent_n else []
    base = hist[:len(hist) - recent_n][-cfg.baseline_weeks:]
    if len(base) < 2:
        return False, float(observed), 0.0
    lam0 = max(sum(base) / len(base), cfg.min_expected)
    lam1 = lam0 + cfg.cusum_shift * math.sqrt(lam0)
    k = (lam1 - lam0) / (math.log(lam1) - math.log(lam0))
    h = cfg.cusum_h * math.sqrt(lam0)
    s = 0.0
    for x in [*recent, observed]:
        s = max(0.0, s + x - k)
    return observed >= cfg.county_min_cases and s > h, lam0, s


# --- rule 3: group disputes ---------------------------------------------------------------
@dataclass(frozen=True)
class CaseFlag:
    """What the group rule needs of one recent case (read from its document)."""

    doc_id: str
    village: str
    category: str
    week: str
    group: bool
    headcount: int


def is_group(case: CaseFlag, cfg: WarningConfig) -> bool:
    return case.group or case.headcount >= cfg.group_headcount


def group_disputes(cases: Iterable[CaseFlag], cfg: WarningConfig) -> list[Signal]:
    """One signal per village × category × week holding group disputes."""
    found: dict[tuple[str, str, str], list[CaseFlag]] = {}
    for c in cases:
        if is_group(c, cfg):
            found.setdefault((c.village, c.category, c.week), []).append(c)
    out = []
    for (village, category, week), group in sorted(found.items()):
        out.append(Signal(village, category, week, GROUP, len(group), 0.0,
                          float(max(c.headcount for c in group)),
                          tuple(sorted(c.doc_id for c in group))))
    return out


# --- all rules over one week --------------------------------------------------------------
def evaluate(series: Mapping[tuple[str, str], Sequence[int]], week: str, cfg: WarningConfig,
             group_cases: Iterable[CaseFlag] = ()) -> list[Signal]:
    """Every signal for ``week``. ``series[(village, category)]`` is that pair's weekly
    counts, oldest first, the last element being ``week`` itself; all series have the same
    length. The county rule runs on the sums per category. Group signals are for the
    cases given (the caller passes the cases of ``week``)."""
    out: list[Signal] = []
    county: dict[str, list[int]] = {}
    for (village, category), counts in sorted(series.items()):
        counts = list(counts)
        if not counts:
            continue
        total = county.setdefault(category, [0] * len(counts))
        for i, x in enumerate(counts):
            total[i] += x
        observed = counts[-1]
        if observed < cfg.min_cases:
            continue  # cheap exit: most pairs, most weeks
        fires, expected, p = village_spike(counts[:-1], observed, cfg)
        if fires:
            out.append(Signal(village, category, week, VILLAGE_SPIKE, observed, expected, p))
    county_rule = ears_c2 if cfg.county_rule == "c2" else poisson_cusum
    rule_name = COUNTY_C2 if cfg.county_rule == "c2" else COUNTY_CUSUM
    for category, totals in sorted(county.items()):
        fires, expected, stat = county_rule(totals[:-1], totals[-1], cfg)
        if fires:
            out.append(Signal(COUNTY, category, week, rule_name, totals[-1], expected, stat))
    out += [s for s in group_disputes(group_cases, cfg) if s.week == week]
    return out
