"""Summaries of events' outcomes (bot/study/outcomes.py), each figure with its sample size.

Per horizon: the mean and median forward return and the hit rate (the % of returns above
zero), each with a 95% bootstrap percentile interval: `resamples` samples of the returns
drawn with replacement (`numpy.random.default_rng(seed).integers(0, n, size=(k, n))`, k
rows at a time), the statistic of each, and the 2.5th and 97.5th percentiles of those
(numpy's linear interpolation). Every sample is bootstrapped with a fresh generator from
the same seed: a figure depends only on its own returns and the seed, so a run gives the
same report every time. The events are taken as independent; crosses close in time are
not, and their intervals are then too narrow.

An event without the bars a figure needs is left out of that figure and counted in its
`missing`. A figure from fewer than `min_events` values is None: the report says "too
few events (n)" instead of a number.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bot.settings import StudyConfig
from bot.study.outcomes import Outcomes

_CELLS = 4_000_000  # resampled values drawn at a time: bounds memory on long baselines


@dataclass(frozen=True, slots=True)
class Estimate:
    value: float  # the statistic of the sample itself
    low: float  # 95% bootstrap percentile interval
    high: float


@dataclass(frozen=True, slots=True)
class HorizonStats:
    bars: int  # the horizon
    n: int  # events with `bars` bars after them
    missing: int  # events without: left out
    mean: Estimate | None  # None: fewer than min_events
    median: Estimate | None
    hit: Estimate | None  # % of forward returns above zero


@dataclass(frozen=True, slots=True)
class FalseBreaks:
    n: int  # events whose `within` bars after are all known
    false: int  # ...of which a close went back through the level
    missing: int
    rate: float | None  # false / n, %; None: fewer than min_events


@dataclass(frozen=True, slots=True)
class Excursions:
    bars: int  # taken over this many bars after the event
    n: int
    missing: int
    mfe_mean: float | None  # favourable, % (None: fewer than min_events)
    mfe_median: float | None
    mae_mean: float | None  # adverse, %
    mae_median: float | None


@dataclass(frozen=True, slots=True)
class Summary:
    events: int
    min_events: int
    horizons: tuple[HorizonStats, ...]
    excursions: Excursions
    false_breaks: FalseBreaks | None  # None: not a break of a level

    @property
    def too_few(self) -> bool:
        return self.events < self.min_events


def summarize(outcomes: Outcomes, cfg: StudyConfig) -> Summary:
    """The figures of one set of events (a tier at a level, or every bar)."""
    events = len(outcomes.mfe)
    need = cfg.min_events
    horizons = []
    for h, r in outcomes.returns.items():
        x = r[~np.isnan(r)]
        est = bootstrap(x, cfg.bootstrap, cfg.seed) if len(x) >= need else None
        mean, median, hit = est if est is not None else (None, None, None)
        horizons.append(HorizonStats(h, len(x), events - len(x), mean, median, hit))
    known = ~np.isnan(outcomes.mfe)
    k = int(known.sum())
    fav, adv = outcomes.mfe[known], outcomes.mae[known]
    few = k < need
    exc = Excursions(
        outcomes.span,
        k,
        events - k,
        None if few else float(np.mean(fav)),
        None if few else float(np.median(fav)),
        None if few else float(np.mean(adv)),
        None if few else float(np.median(adv)),
    )
    fb = None
    if outcomes.false_break is not None:
        flags = outcomes.false_break[~np.isnan(outcomes.false_break)]
        m, false = len(flags), int(flags.sum())
        fb = FalseBreaks(m, false, events - m, false / m * 100.0 if m >= need else None)
    return Summary(events, need, tuple(horizons), exc, fb)


def bootstrap(values: np.ndarray, resamples: int, seed: int) -> tuple[Estimate, ...]:
    """(mean, median, hit rate %) of `values`, each with its 95% percentile interval."""
    x = np.asarray(values, dtype=np.float64)
    n = len(x)
    if n == 0:
        raise ValueError("no values to bootstrap")
    rng = np.random.default_rng(seed)
    means, medians, hits = [], [], []
    chunk = max(1, _CELLS // n)
    done = 0
    while done < resamples:
        k = min(chunk, resamples - done)
        sample = x[rng.integers(0, n, size=(k, n))]
        means.append(sample.mean(axis=1))
        medians.append(np.median(sample, axis=1))
        hits.append((sample > 0).mean(axis=1) * 100.0)
        done += k
    points = (float(x.mean()), float(np.median(x)), float((x > 0).mean() * 100.0))
    out = []
    for point, draws in zip(points, (means, medians, hits), strict=True):
        low, high = np.percentile(np.concatenate(draws), [2.5, 97.5])
        out.append(Estimate(point, float(low), float(high)))
    return tuple(out)
