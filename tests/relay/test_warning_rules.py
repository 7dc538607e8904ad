"""The risk-warning rules (relay/warnings.py) as pure functions: exact Poisson tails,
each rule's edges, and the error rates on synthetic weekly series with injected spikes.

The rates asserted here are the ones docs/warnings.md reports (same seeds, same code):
the village rule on a realistic mix of villages (30 to 600 cases a year, categories
weighted as in village courts) gives ~0.5 false warnings per 1,000 village × category
weeks and detects ~93% of +5 spikes; the bounds below leave room for nothing else.
"""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relay.warnings import (
    COUNTY,
    COUNTY_C2,
    COUNTY_CUSUM,
    GROUP,
    VILLAGE_SPIKE,
    CaseFlag,
    WarningConfig,
    ears_c2,
    evaluate,
    group_disputes,
    poisson_cusum,
    poisson_sf,
    village_spike,
)

CFG = WarningConfig()
WEIGHTS = {"neighbour": 24, "family": 18, "land": 14, "property": 7, "labour": 8, "loan": 12,
           "consumer": 5, "environment": 4, "traffic": 5, "other": 3}
# Documented bounds (docs/warnings.md, "Measured error rates").
MAX_FALSE_PER_1000 = 1.5
MIN_DETECTION_PLUS5 = 0.85
COUNTY_MAX_FALSE_PER_1000 = 10.0
COUNTY_MIN_DETECTION_50PCT = 0.55
COUNTY_MIN_DETECTION_DOUBLE = 0.99


def poisson(rng: random.Random, lam: float) -> int:
    """Knuth's method (small means) or a normal approximation (large ones)."""
    if lam > 50:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


# --- the Poisson tail --------------------------------------------------------------------
def direct_sf(k: int, lam: float) -> float:
    return 1.0 - sum(math.exp(-lam) * lam ** i / math.factorial(i) for i in range(k))


@pytest.mark.parametrize("k,lam", [(0, 1.0), (1, 0.5), (3, 0.5), (5, 2.0), (10, 4.0),
                                   (2, 7.0), (30, 12.5), (1, 0.0001)])
def test_poisson_tail_is_exact(k: int, lam: float) -> None:
    assert poisson_sf(k, lam) == pytest.approx(direct_sf(k, lam), rel=1e-9, abs=1e-15)


def test_poisson_tail_keeps_tiny_probabilities() -> None:
    # 40 cases when 0.5 are expected: far below what 1 - lower tail could represent.
    p = poisson_sf(40, 0.5)
    assert 0 < p < 1e-50
    assert p == pytest.approx(math.exp(-0.5) * 0.5 ** 40 / math.factorial(40), rel=1e-3)


@given(st.integers(0, 200), st.floats(0.01, 150))
@settings(max_examples=200, deadline=None)
def test_poisson_tail_is_a_probability_and_falls_with_k(k: int, lam: float) -> None:
    p, q = poisson_sf(k, lam), poisson_sf(k + 1, lam)
    assert 0.0 <= q <= p <= 1.0


# --- rule 1: village × category × week -------------------------------------------------------
def test_village_rule_edges() -> None:
    # Never on fewer than min_cases, however quiet the baseline.
    assert not village_spike([0] * 8, 2, CFG)[0]
    # Three cases where none were seen for two months: expected is floored at 0.5.
    fires, expected, p = village_spike([0] * 8, 3, CFG)
    assert expected == CFG.min_expected and p == pytest.approx(direct_sf(3, 0.5))
    assert not fires  # p = 0.014: not unusual enough
    fires, expected, p = village_spike([0] * 8, 5, CFG)
    assert fires and p < CFG.alpha
    # A busy village: 5 a week is its normal.
    assert not village_spike([5, 4, 6, 5, 5, 6, 4, 5], 7, CFG)[0]
    assert village_spike([5, 4, 6, 5, 5, 6, 4, 5], 15, CFG)[0]
    # Only the last baseline_weeks weeks count.
    assert village_spike([50] * 10 + [0] * 8, 5, CFG)[1] == CFG.min_expected


def realistic_series(rng: random.Random, villages: int, weeks: int = 9
                     ) -> dict[tuple[str, str], list[int]]:
    total = sum(WEIGHTS.values())
    series = {}
    for v in range(villages):
        annual = math.exp(rng.uniform(math.log(30), math.log(600)))
        for cat, w in WEIGHTS.items():
            lam = annual * w / total / 52
            series[(f"V{v:04d}", cat)] = [poisson(rng, lam) for _ in range(weeks)]
    return series


def village_rates(seed: int = 2026, villages: int = 3000) -> tuple[float, float]:
    """(false warnings per 1,000 village × category weeks, share of +5 spikes found)."""
    series = realistic_series(random.Random(seed), villages)
    quiet = evaluate(series, "2026-03-16", CFG)
    false = sum(s.rule == VILLAGE_SPIKE for s in quiet)
    spiked = {k: [*v[:-1], v[-1] + 5] for k, v in series.items()}
    found = {(s.village, s.category) for s in evaluate(spiked, "2026-03-16", CFG)
             if s.rule == VILLAGE_SPIKE}
    return false / len(series) * 1000, len(found) / len(series)


def test_village_rule_error_rates_on_synthetic_series() -> None:
    false_per_1000, detection = village_rates()
    assert false_per_1000 <= MAX_FALSE_PER_1000, false_per_1000
    assert detection >= MIN_DETECTION_PLUS5, detection


@pytest.mark.parametrize("lam,min_detect", [(0.2, 0.99), (0.5, 0.9), (1.0, 0.6)])
def test_village_rule_detects_plus_five_by_base_rate(lam: float, min_detect: float) -> None:
    rng = random.Random(int(lam * 100))
    n = 4000
    found = false = 0
    for _ in range(n):
        base = [poisson(rng, lam) for _ in range(8)]
        x = poisson(rng, lam)
        false += village_spike(base, x, CFG)[0]
        found += village_spike(base, x + 5, CFG)[0]
    assert found / n >= min_detect
    assert false / n * 1000 <= 4.0


# --- rule 2: county × category ------------------------------------------------------------
def test_ears_c2_uses_a_lagged_baseline() -> None:
    # A rise in the last two weeks is not part of the baseline it is compared with.
    hist = [20, 22, 19, 21, 20, 18, 22, 40, 45]
    fires, expected, score = ears_c2(hist, 50, CFG)
    assert expected == pytest.approx(sum(hist[:7]) / 7) and fires and score > 3
    assert not ears_c2([20, 22, 19, 21, 20, 18, 22, 20, 21], 24, CFG)[0]
    # A flat baseline is floored at the Poisson sd, not treated as certainty.
    assert not ears_c2([10] * 9, 14, CFG)[0]
    assert ears_c2([10] * 9, 25, CFG)[0]
    assert not ears_c2([0] * 9, 4, CFG)[0]  # fewer than county_min_cases


def test_cusum_finds_a_sustained_shift_a_single_week_misses() -> None:
    cfg = WarningConfig(county_rule="cusum")
    base = [40, 38, 42, 41, 39, 40, 42, 38]
    shifted = [*base, 52, 53, 51]  # +2 sd for three weeks, then the tested week
    assert not ears_c2(shifted, 52, cfg)[0]
    fires, expected, s = poisson_cusum(shifted, 52, cfg)
    assert fires and expected == pytest.approx(40) and s > cfg.cusum_h * math.sqrt(40)
    assert not poisson_cusum([*base, 40, 41, 39], 42, cfg)[0]


@pytest.mark.parametrize("rule", ["c2", "cusum"])
def test_county_rules_false_warning_rate(rule: str) -> None:
    cfg = WarningConfig(county_rule=rule)
    fn = ears_c2 if rule == "c2" else poisson_cusum
    rng = random.Random(7)
    trials = false = 0
    for lam in (20, 60, 150):
        for _ in range(2000):
            hist = [poisson(rng, lam) for _ in range(12)]
            false += fn(hist, poisson(rng, lam), cfg)[0]
            trials += 1
    assert false / trials * 1000 <= COUNTY_MAX_FALSE_PER_1000


def county_c2_detection(rise: float, lam: float = 60, n: int = 2000, seed: int = 8) -> float:
    rng = random.Random(seed)
    found = 0
    for _ in range(n):
        hist = [poisson(rng, lam) for _ in range(9)]
        found += ears_c2(hist, poisson(rng, lam * (1 + rise)), CFG)[0]
    return found / n


def test_county_c2_detects_a_doubled_week() -> None:
    assert county_c2_detection(1.0) >= COUNTY_MIN_DETECTION_DOUBLE
    assert county_c2_detection(0.5) >= COUNTY_MIN_DETECTION_50PCT


# --- rule 3: group disputes ---------------------------------------------------------------
def test_group_disputes_warn_at_once() -> None:
    w = "2026-03-16"
    cases = [
        CaseFlag("a", "BY", "labour", w, True, 12),
        CaseFlag("b", "BY", "labour", w, False, 45),  # no flag, but a crowd
        CaseFlag("c", "BY", "labour", w, False, 3),
        CaseFlag("d", "QS", "land", w, False, 29),  # just under the threshold
        CaseFlag("e", "QS", "land", "2026-03-09", True, 8),
    ]
    signals = group_disputes(cases, CFG)
    assert [(s.village, s.category, s.week, s.observed, s.statistic, s.cases)
            for s in signals] == [("BY", "labour", w, 2, 45.0, ("a", "b")),
                                  ("QS", "land", "2026-03-09", 1, 8.0, ("e",))]
    # Through evaluate: only the tested week's, whatever the counts say.
    out = evaluate({("BY", "labour"): [0] * 9}, w, CFG, cases)
    assert [(s.rule, s.village) for s in out] == [(GROUP, "BY")]


def test_evaluate_names_rule_observed_and_expected() -> None:
    series = {("BY", "land"): [0, 1, 0, 0, 1, 0, 0, 0, 7],
              ("QS", "land"): [3, 2, 4, 3, 2, 3, 3, 2, 3]}
    out = evaluate(series, "2026-03-16", CFG)
    village = [s for s in out if s.rule == VILLAGE_SPIKE]
    assert len(village) == 1
    s = village[0]
    assert (s.village, s.category, s.week, s.observed) == ("BY", "land", "2026-03-16", 7)
    assert s.expected == pytest.approx(0.5) and s.statistic < CFG.alpha
    county = [s for s in out if s.village == COUNTY]
    assert all(s.rule in (COUNTY_C2, COUNTY_CUSUM) for s in county)


def test_configuration_is_checked() -> None:
    assert WarningConfig.from_dict(None) == CFG
    assert WarningConfig.from_dict({"alpha": 0.01}).alpha == 0.01
    for bad in ({"alpha": 0.9}, {"county_rule": "magic"}, {"min_cases": 0},
                {"no_such_setting": 1}, {"baseline_weeks": 1}):
        with pytest.raises(ValueError):
            WarningConfig.from_dict(bad)
    assert WarningConfig.from_dict(CFG.to_dict()) == CFG
