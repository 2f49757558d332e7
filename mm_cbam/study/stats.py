"""The statistics of a study, with scipy and statsmodels (no hand-written tables).

For each variant and measure, the paired differences to the reference over seeds
(same seed = same batches, proposals, dropout and starting weights):

* two-sided one-sample t-test of the mean difference (``scipy.stats.ttest_1samp``), p-values
  Holm-adjusted across the variants of the study (``statsmodels`` ``multipletests``);
* Holm step-down intervals: the t interval of the variant ranked j-th by p-value at level
  ``1 - alpha / (m - j + 1)`` while every better-ranked hypothesis was rejected, and at the level
  of the first non-rejected rank after that -- so an interval excludes 0 exactly when Holm
  rejects (the intervals are compatible with the test decisions);
* equivalence: TOST (two one-sided t-tests against ``-margin`` and ``+margin``), p-values
  Holm-adjusted too; "no difference" is only ever said from it;
* a second interval from a paired bootstrap over validation images (:mod:`.precise`): it
  captures the sampling of the validation set for these trained models, not seed variation.

The verdict of a variant: ``identical`` when every paired difference is exactly 0 (the
variant computes the reference's function there, e.g. attention with alpha 0 at insertion: true
by construction, so it is left out of the tested family), ``lower`` / ``higher`` (Holm-adjusted
p < alpha), ``equivalent`` (Holm-adjusted TOST p < alpha), otherwise ``inconclusive``; ``not
assessed`` when the calibration (A/A) row is not exactly zero. Tied p-values get the same
interval level (the first of the tied ranks').
"""
import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import numpy as np


@dataclass
class Comparison:
    """The paired comparison of one variant with the reference on one measure."""
    n: int
    mean: float
    sd: float
    p: float
    p_holm: float = math.nan
    low: float = math.nan
    high: float = math.nan
    level: float = math.nan
    p_tost: float = math.nan
    p_tost_holm: float = math.nan
    verdict: str = 'inconclusive'


def t_test(diffs: Sequence[float]) -> Comparison:
    """Mean, sd and the two-sided p-value of paired differences (exact for a zero spread)."""
    from scipy import stats
    d = np.asarray(diffs, dtype=np.float64)
    mean = float(d.mean())
    sd = float(d.std(ddof=1)) if d.size > 1 else math.nan
    if d.size < 2:
        p = math.nan
    elif sd == 0:
        p = 1.0 if mean == 0 else 0.0
    else:
        p = float(stats.ttest_1samp(d, 0.0).pvalue)
    return Comparison(n=int(d.size), mean=mean, sd=sd, p=p)


def t_interval(c: Comparison, level: float) -> tuple:
    """The two-sided t interval of the mean difference at confidence ``level``."""
    from scipy import stats
    if c.n < 2 or math.isnan(c.sd):
        return math.nan, math.nan
    half = float(stats.t.ppf(0.5 + level / 2, c.n - 1)) * c.sd / math.sqrt(c.n)
    return c.mean - half, c.mean + half


def tost(diffs: Sequence[float], margin: float) -> float:
    """p-value of the equivalence test |mean difference| < ``margin`` (the larger of the two
    one-sided t-tests' p-values)."""
    from scipy import stats
    d = np.asarray(diffs, dtype=np.float64)
    if d.size < 2:
        return math.nan
    if float(d.std(ddof=1)) == 0:
        return 0.0 if abs(float(d.mean())) < margin else 1.0
    lower = stats.ttest_1samp(d, -margin, alternative='greater').pvalue
    upper = stats.ttest_1samp(d, margin, alternative='less').pvalue
    return float(max(lower, upper))


def holm(pvalues: Sequence[float]) -> List[float]:
    """Holm-adjusted p-values (NaN stays NaN)."""
    from statsmodels.stats.multitest import multipletests
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        out[ok] = multipletests(p[ok], method='holm')[1]
    return out.tolist()


def compare(diffs_by_variant: Dict[str, Sequence[float]], alpha: float, margin: float,
            calibrated: bool = True) -> Dict[str, Comparison]:
    """Every variant's :class:`Comparison`: Holm-adjusted p-values and step-down intervals,
    Holm-adjusted TOST, the verdict."""
    out = {n: t_test(d) for n, d in diffs_by_variant.items()}
    identical = [n for n, d in diffs_by_variant.items() if len(d) and all(v == 0 for v in d)]
    for name in identical:
        out[name].p, out[name].low, out[name].high = math.nan, 0.0, 0.0
    names = [n for n in diffs_by_variant if n not in identical]  # the tested family
    tost_p = {n: tost(diffs_by_variant[n], margin) for n in names}
    for name, p, pt in zip(names, holm([out[n].p for n in names]),
                           holm([tost_p[n] for n in names])):
        out[name].p_holm, out[name].p_tost, out[name].p_tost_holm = p, tost_p[name], pt
    ranked = sorted((n for n in names if not math.isnan(out[n].p)), key=lambda n: out[n].p)
    m = len(ranked)
    level, stepping, previous = None, True, None
    for j, name in enumerate(ranked, start=1):
        if stepping and out[name].p != previous:  # a tie keeps the level of its first rank
            level = 1 - alpha / (m - j + 1)
            stepping = out[name].p <= alpha / (m - j + 1)
        previous = out[name].p
        out[name].level = level
        out[name].low, out[name].high = t_interval(out[name], level)
    for name, c in out.items():
        if not calibrated:
            c.verdict = 'not assessed'
        elif name in identical:
            c.verdict = 'identical'
        elif not math.isnan(c.p_holm) and c.p_holm < alpha:
            c.verdict = 'lower' if c.mean < 0 else 'higher'
        elif not math.isnan(c.p_tost_holm) and c.p_tost_holm < alpha:
            c.verdict = 'equivalent'
    return out


def bootstrap_interval(variant: Sequence[Sequence[float]], reference: Sequence[Sequence[float]],
                       level: float = 0.95) -> tuple:
    """Percentile interval of the seed-mean paired difference over bootstrap resamples:
    ``variant[s][b]`` and ``reference[s][b]`` are seed ``s``'s metric on resample ``b``."""
    v = np.asarray(variant, dtype=np.float64)
    r = np.asarray(reference, dtype=np.float64)
    diff = (v - r).mean(axis=0)  # (B,)
    lo, hi = np.percentile(diff, [50 * (1 - level), 50 * (1 + level)])
    return float(lo), float(hi)


def exactly_zero(values: Sequence[Optional[float]]) -> bool:
    """Whether every value is exactly 0 (the calibration's requirement); None counts as not."""
    return all(v is not None and v == 0 for v in values)
