"""Every variant against the reference, seed by seed (same seed = same batches, proposal
sampling and dropout, and in the insert scenario the same starting weights).

Per seed (:func:`paired`): the final and ``damage@0`` metric differences (exact metrics,
:mod:`.precise`), the difference at the end of a warm-up, the loss-term ratios over the shock
window -- ``mean(variant) / mean(reference) - 1`` over the first ``shock_iters`` iterations,
signed and as |.| -- and recovery: the first iteration after which the running-mean ratio of
the total loss *and of every compared term* stays within ``recovery_tol`` (``None``: never; a
damaged RPN can hide in the total). Over seeds (:func:`compare_all`):
the statistics of :mod:`.stats`, and the calibration check -- the A/A variant must differ from
the reference by exactly 0 in every compared number, else no difference is assessed.
"""
import math
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from .stats import Comparison, bootstrap_interval, compare, exactly_zero


def metric_at(m: dict, step: int, metric: str) -> Optional[float]:
    precise = (m.get('precise') or {}).get(step)
    if precise is not None and metric in precise:
        return precise[metric]
    return (m.get('val') or {}).get(step, {}).get(metric)


def final_step(m: dict) -> Optional[int]:
    steps = sorted(set(m.get('precise') or {}) | set(m.get('val') or {}))
    return steps[-1] if steps else None


def _ratio(values: Dict[int, float], ref: Dict[int, float], iters: List[int]) -> Optional[float]:
    common = [i for i in iters if i in values and i in ref]
    den = sum(ref[i] for i in common)
    return sum(values[i] for i in common) / den - 1 if common and den else None


def recovery(values: Dict[int, float], ref: Dict[int, float], tol: float,
             window: int) -> Optional[int]:
    """First iteration from which the running-mean ratio stays within ``tol`` of 1."""
    common = [i for i in sorted(values) if i in ref]
    inside = []
    for n, it in enumerate(common):
        span = common[max(0, n - window + 1):n + 1]
        den = sum(ref[i] for i in span)
        inside.append(den > 0 and abs(sum(values[i] for i in span) / den - 1) <= tol)
    if not inside or not inside[-1]:
        return None
    k = len(inside)
    while k > 0 and inside[k - 1]:
        k -= 1
    return common[k]


def paired(m: dict, ref: dict, study, warmup_iters: Optional[int]) -> dict:
    """The per-seed comparison numbers of one run with the reference run of its seed."""
    metric, settings = study.metric, study.measure
    last, ref_last = final_step(m), final_step(ref)
    out = dict(final=None, damage0=None, warmup_end=None, size={})
    if last is not None and last == ref_last:
        a, b = metric_at(m, last, metric), metric_at(ref, last, metric)
        out['final'] = None if a is None or b is None else a - b
        for key in ('coco/bbox_mAP_s', 'coco/bbox_mAP_m', 'coco/bbox_mAP_l'):
            a, b = metric_at(m, last, key), metric_at(ref, last, key)
            if a is not None and b is not None and min(a, b) >= 0:  # -1: no such objects
                out['size'][key[-1]] = a - b
        boot, ref_boot = (m.get('precise') or {}).get(last, {}), (ref.get('precise') or {}).get(
            last, {})
        if 'bootstrap' in boot and 'bootstrap' in ref_boot:
            out['bootstrap'] = (boot['bootstrap'], ref_boot['bootstrap'])
    a, b = metric_at(m, 0, metric), metric_at(ref, 0, metric)
    out['damage0'] = None if a is None or b is None else a - b
    if warmup_iters:
        a, b = metric_at(m, warmup_iters, metric), metric_at(ref, warmup_iters, metric)
        out['warmup_end'] = None if a is None or b is None else a - b
    window = [i for i in sorted(m['loss']) if i <= settings['shock_iters']]
    out['shock'] = {'loss': _ratio(m['loss'], ref['loss'], window)}
    for c, values in m['components'].items():
        out['shock'][c] = _ratio(values, ref['components'].get(c, {}), window)
    per_term = [recovery(m['loss'], ref['loss'], settings['recovery_tol'],
                         settings['recovery_window'])]
    per_term += [recovery(values, ref['components'].get(c, {}), settings['recovery_tol'],
                          settings['recovery_window']) for c, values in m['components'].items()
                 if c in settings['components']]
    out['recovery'] = None if None in per_term else max(per_term)
    diffs = [abs(m['loss'][i] - ref['loss'][i]) for i in m['loss'] if i in ref['loss']]
    for c, values in m['components'].items():
        ref_c = ref['components'].get(c, {})
        diffs += [abs(values[i] - ref_c[i]) for i in values if i in ref_c]
    out['max_loss_diff'] = max(diffs) if diffs else None
    first = min(m['loss']) if m['loss'] else None
    out['first_loss_equal'] = first is not None and m['loss'][first] == ref['loss'].get(first)
    return out


@dataclass
class VariantResult:
    """A variant's runs, per-seed comparisons and statistics."""
    name: str
    measures: Dict[int, dict]
    pairs: Dict[int, dict] = field(default_factory=dict)
    final: Optional[Comparison] = None
    damage0: Optional[Comparison] = None
    warmup_end: Optional[Comparison] = None  # the damage when a warm-up ends
    bootstrap: Optional[tuple] = None

    @property
    def damage(self) -> Optional[Comparison]:
        """The damage the insertion does: at 0, or -- for a warm-up, which defers it -- at
        the end of the warm-up, whichever is worse."""
        if self.warmup_end is None or self.damage0 is None:
            return self.damage0
        return min(self.damage0, self.warmup_end, key=lambda c: c.mean)


def compare_all(study, measures: Dict[str, Dict[int, dict]]):
    """``(results by variant, calibrated, calibration notes)`` for the finished runs."""
    ref = measures.get(study.reference, {})
    results: Dict[str, VariantResult] = {}
    for name, by_seed in measures.items():
        result = VariantResult(name, by_seed)
        if name != study.reference:
            variant = study.variants.get(name)
            for seed, m in by_seed.items():
                if seed in ref:
                    result.pairs[seed] = paired(m, ref[seed], study, variant.warmup_iters)
        results[name] = result
    calibrated, notes = calibration(study, results)
    tested = [n for n in results if n not in (study.reference, study.calibration)]
    for key in ('final', 'damage0', 'warmup_end'):  # three separate families
        diffs = {n: [p[key] for p in results[n].pairs.values() if p[key] is not None]
                 for n in tested}
        diffs = {n: d for n, d in diffs.items() if d}
        for name, comparison in compare(diffs, study.alpha, study.margin, calibrated).items():
            setattr(results[name], key, comparison)
    for name in tested:
        boots = [p['bootstrap'] for p in results[name].pairs.values() if 'bootstrap' in p]
        if boots:
            results[name].bootstrap = bootstrap_interval([b[0] for b in boots],
                                                         [b[1] for b in boots])
    return results, calibrated, notes


def calibration(study, results: Dict[str, VariantResult]):
    """Whether the A/A variant reads exactly zero against the reference in every compared
    number (per-iteration loss and terms, shock, damage@0, final metric), and notes."""
    notes = []
    aa = results.get(study.calibration)
    if aa is None or not aa.pairs:
        return False, [f'no finished `{study.calibration}` run paired with the reference: the '
                       'pairing is unchecked, so no difference is assessed']
    values = []
    for p in aa.pairs.values():
        values += [p['max_loss_diff'], p['damage0'], p['final']]
        values += [v for v in p['shock'].values()]
    ok = exactly_zero(values)
    missing = sum(v is None for v in values)
    worst = max((abs(v) for v in values if v is not None and not math.isnan(v)), default=None)
    if ok:
        notes.append(f'`{study.calibration}` (attention inserted as an exact no-op, '
                     f'{len(aa.pairs)} seeds): every compared number is exactly 0 -- the pairing '
                     'is exact')
    elif missing and not worst:
        notes.append(f'`{study.calibration}`: {missing} compared numbers are missing (unfinished '
                     'or unmeasured runs): the pairing is unchecked, so no difference is assessed')
    else:
        notes.append(f'`{study.calibration}` differs from the reference (largest |difference| '
                     f'{worst!r}): the pairing is broken, so no difference below is called '
                     'supported')
    for name, result in results.items():
        variant = study.variants.get(name)
        if variant is not None and variant.stabiliser == 'identity_start' and result.pairs:
            same = sum(p['first_loss_equal'] for p in result.pairs.values())
            notes.append(f'`{name}`: the first logged loss equals the reference\'s bit for bit in '
                         f'{same} of {len(result.pairs)} seeds')
    return ok, notes
