"""Replication: do two disjoint seed sets of one study reach the same verdicts?

``python -m mm_cbam.study STUDY --replicate 5-9`` (once ``--seeds 5-9`` has run) compares the
study's own seeds (or ``--seeds``) with the given ones: for every variant and every compared
quantity -- the damage at insertion, the damage at the end of a warm-up, the final metric --
each seed set's mean paired difference and verdict, and whether the verdicts agree. A finding is
a verdict both sets reach (both ``lower``, both ``higher`` or both ``equivalent``); the README
reports nothing else. Both sets share the pretrained plain model: a replication varies the
fine-tuning (batches, attention initialisation), not the pretraining. Written to
``<study dir>/replication-seeds<A>-vs-seeds<B>.md``.
"""
import os.path as osp
from typing import List, Tuple

from .compare import compare_all
from .plan import plan_runs
from .report import collect
from .spec import seeds_label

QUANTITIES = (('damage0', 'damage@0'), ('warmup_end', 'damage at the end of the warm-up'),
              ('final', 'final'))
FINDINGS = ('lower', 'higher', 'equivalent')


def _results(study):
    data = collect(study, plan_runs(study, write=False))
    return compare_all(study, data) if data else ({}, False, [])


def compare_seed_sets(study_a, study_b) -> Tuple[List[tuple], bool]:
    """``[(variant, quantity, comparison A, comparison B)]`` and whether both calibrations
    hold."""
    res_a, cal_a, _ = _results(study_a)
    res_b, cal_b, _ = _results(study_b)
    rows = []
    for name in study_a.variants:
        if name in (study_a.reference, study_a.calibration):
            continue
        a, b = res_a.get(name), res_b.get(name)
        for key, label in QUANTITIES:
            ca, cb = (getattr(a, key) if a else None), (getattr(b, key) if b else None)
            if ca is not None or cb is not None:
                rows.append((name, label, ca, cb))
    return rows, cal_a and cal_b


def _cell(c) -> str:
    return '-' if c is None else f'{c.mean:+.4f} ({c.verdict})'


def write_replication(study_a, study_b) -> str:
    """The replication report of two seed selections of one study; returns its path."""
    rows, calibrated = compare_seed_sets(study_a, study_b)
    la, lb = seeds_label(study_a.seeds), seeds_label(study_b.seeds)
    agree = [r for r in rows if r[2] and r[3] and r[2].verdict == r[3].verdict]
    findings = [r for r in agree if r[2].verdict in FINDINGS]
    differ = [r for r in rows if r not in agree]
    lines = [f'# Replication of `{study_a.name}`: {la} vs {lb}', '',
             f'Both seed sets fine-tune the same pretrained plain model; calibration (A/A exactly '
             f'zero) in both: **{"yes" if calibrated else "NO: nothing below is assessed"}**.',
             f'{len(findings)} findings (the same lower / higher / equivalent verdict in both), '
             f'{len(agree) - len(findings)} other agreements (inconclusive or identical by '
             f'construction in both), {len(differ)} verdicts that differ.', '',
             f'| variant | quantity | {la} | {lb} | same verdict |', '|---|---|---|---|---|']
    for name, label, ca, cb in rows:
        same = 'yes' if (ca and cb and ca.verdict == cb.verdict) else '**no**'
        lines.append(f'| {name} | {label} | {_cell(ca)} | {_cell(cb)} | {same} |')
    lines += ['', 'Δ: mean paired difference to the reference over the seed set, with its '
              'verdict (Holm-adjusted within the seed set; see the study report).']
    path = osp.join(study_a.work_dir, f'replication-{la}-vs-{lb}.md')
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return path
