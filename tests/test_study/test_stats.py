"""The study's statistics against independent computations on hand-made numbers: scipy's paired
t-test, statsmodels' TOST, a literal Holm step-down, scipy's t intervals."""
import math

import numpy as np
import pytest
from scipy import stats as sps

from mm_cbam.study.stats import bootstrap_interval, compare, holm, t_test, tost

VARIANT = np.array([0.412, 0.398, 0.405, 0.420, 0.401])
REFERENCE = np.array([0.401, 0.399, 0.396, 0.407, 0.399])


def test_paired_t_test_is_scipys():
    c = t_test(VARIANT - REFERENCE)
    assert c.p == pytest.approx(sps.ttest_rel(VARIANT, REFERENCE).pvalue, rel=1e-12)
    assert c.mean == pytest.approx(np.mean(VARIANT - REFERENCE))
    assert c.sd == pytest.approx(np.std(VARIANT - REFERENCE, ddof=1))


def test_zero_spread_gives_exact_p_values():
    assert t_test([0.0, 0.0, 0.0]).p == 1.0
    assert t_test([0.01, 0.01, 0.01]).p == 0.0


def test_holm_is_the_step_down_procedure():
    p = [0.01, 0.04, 0.03, 0.005]
    order = np.argsort(p)
    m = len(p)
    expected = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):  # p_(j) * (m - j + 1), cumulative maximum, capped at 1
        running = max(running, min(1.0, p[i] * (m - rank)))
        expected[i] = running
    assert holm(p) == pytest.approx(expected.tolist())
    assert math.isnan(holm([0.01, float('nan')])[1])


def test_tost_is_statsmodels_paired_tost():
    from statsmodels.stats.weightstats import ttost_paired
    margin = 0.01
    expected = ttost_paired(VARIANT, REFERENCE, -margin, margin)[0]
    assert tost(VARIANT - REFERENCE, margin) == pytest.approx(expected, rel=1e-10)


@pytest.mark.slow
def test_holm_intervals_agree_with_the_holm_decisions():
    rng = np.random.RandomState(0)
    for trial in range(30):
        diffs = {f'v{i}': rng.normal(rng.choice([0, 0.01, 0.03]), 0.01, size=5)
                 for i in range(6)}
        result = compare(diffs, alpha=0.05, margin=0.005)
        for name, c in result.items():
            excludes_zero = c.low > 0 or c.high < 0
            assert excludes_zero == (c.p_holm < 0.05), (trial, name, c)


def test_first_holm_interval_is_the_bonferroni_t_interval():
    diffs = {'a': VARIANT - REFERENCE, 'b': np.array([0.001, -0.002, 0.0, 0.002, -0.001])}
    result = compare(diffs, alpha=0.05, margin=0.01)
    first_name = min(result, key=lambda n: result[n].p)
    d = diffs[first_name]
    lo, hi = sps.t.interval(1 - 0.05 / 2, len(d) - 1, loc=d.mean(),
                            scale=d.std(ddof=1) / math.sqrt(len(d)))
    got = (result[first_name].low, result[first_name].high)
    assert got == pytest.approx((lo, hi), rel=1e-10)


def test_verdicts():
    diffs = {'lower': np.array([-0.05, -0.051, -0.049, -0.052, -0.048]),
             'same': np.array([0.0001, -0.0002, 0.0001, 0.0, -0.0001]),
             'noisy': np.array([0.03, -0.04, 0.05, -0.02, 0.01])}
    result = compare(diffs, alpha=0.05, margin=0.01)
    assert result['lower'].verdict == 'lower'
    assert result['same'].verdict == 'equivalent'
    assert result['noisy'].verdict == 'inconclusive'
    assert {c.verdict for c in compare(diffs, 0.05, 0.01, calibrated=False).values()} == {
        'not assessed'}


def test_bootstrap_interval_is_a_percentile_interval_of_the_seed_mean():
    rng = np.random.RandomState(1)
    v, r = rng.normal(0.4, 0.01, (3, 500)), rng.normal(0.39, 0.01, (3, 500))
    lo, hi = bootstrap_interval(v, r)
    diff = (v - r).mean(axis=0)
    assert (lo, hi) == pytest.approx(tuple(np.quantile(diff, [0.025, 0.975])))


def test_identical_rows_are_said_so_and_leave_the_tested_family():
    """A variant equal to the reference in every seed (alpha 0 at insertion) is 'identical', not
    a tested equivalence, and does not enlarge the Holm family of the others."""
    tested = {'a': VARIANT - REFERENCE, 'lower': np.array([-0.05, -0.051, -0.049, -0.052, -0.048])}
    alone = compare(tested, alpha=0.05, margin=0.01)
    both = compare(dict(tested, same=np.zeros(5)), alpha=0.05, margin=0.01)
    assert both['same'].verdict == 'identical' and (both['same'].low, both['same'].high) == (0, 0)
    assert math.isnan(both['same'].p_holm)
    for name in tested:  # the same adjustment as without the identical row
        assert both[name].p_holm == alone[name].p_holm
        assert (both[name].low, both[name].high) == (alone[name].low, alone[name].high)


def test_tied_p_values_get_the_same_interval():
    d = np.array([-0.05, -0.06, -0.04, -0.055, -0.045])
    result = compare({'x': d, 'y': d.copy(), 'z': np.array([0.01, -0.02, 0.0, 0.02, -0.01])},
                     alpha=0.05, margin=0.01)
    assert result['x'].level == result['y'].level == 1 - 0.05 / 3
    assert (result['x'].low, result['x'].high) == (result['y'].low, result['y'].high)
