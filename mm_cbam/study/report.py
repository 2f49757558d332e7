"""The study report: ``<study dir>/report[-<selection>].md`` and its PNGs, regenerated from the
runs' measurements (``measure.json``, :mod:`.measure`) every time.

A report covers every finished run of its selection: the study's own seeds and variants write
``report.md``; ``--seeds`` / ``--only`` selections write ``report-<selection>.md`` and never
replace it. Definitions are written into the report next to the numbers.
"""
import math
import os
import os.path as osp
from statistics import mean, stdev
from typing import Dict, List

from . import measure as measure_mod
from .compare import compare_all, final_step
from .plan import Run

SIZE_NAMES = {'s': 'small', 'm': 'medium', 'l': 'large'}


def collect(study, runs: List[Run]) -> Dict[str, Dict[int, dict]]:
    """``variant -> seed -> measures`` of the measured runs of the selection."""
    out: Dict[str, Dict[int, dict]] = {}
    for run in runs:
        if run.variant is None:
            continue
        m = measure_mod.load(run.work_dir)
        if m is not None:
            out.setdefault(run.variant, {})[run.seed] = m
    return out


def _f(value, fmt='{:+.4f}', none='-') -> str:
    return none if value is None or (isinstance(value, float) and math.isnan(value)) else \
        fmt.format(value)


def _ms(values, fmt='{:.4f}') -> str:
    values = [v for v in values if v is not None]
    if not values:
        return '-'
    if len(values) == 1:
        return fmt.format(values[0])
    return f'{fmt.format(mean(values))} ± {fmt.replace("+", "").format(stdev(values))}'


def _comparison(c, unit: str = '') -> str:
    if c is None:
        return '-'
    interval = '' if math.isnan(c.low) else f' [{c.low:+.4f}, {c.high:+.4f}]'
    return f'{c.mean:+.4f}{interval}{unit}'


def _verdict(c, study) -> str:
    if c is None:
        return '-'
    return {'lower': 'lower (supported)', 'higher': 'higher (supported)',
            'equivalent': f'equivalent within ±{study.margin:g}'}.get(c.verdict, c.verdict)


def _shock_text(pairs, key) -> str:
    values = [p['shock'].get(key) for p in pairs.values() if p['shock'].get(key) is not None]
    if not values:
        return '-'
    return f'{mean(values):+.1%} (|·| {mean(abs(v) for v in values):.1%})'


def _stage_text(measures, stat, fmt='{:.2f}') -> str:
    stages = sorted({s for m in measures.values() for s, v in m['stages'].items()
                     if v.get(stat) is not None})
    parts = []
    for stage in stages:
        values = [m['stages'][stage][stat] for m in measures.values()
                  if m['stages'].get(stage, {}).get(stat) is not None]
        parts.append(f'{stage} {fmt.format(mean(values))}')
    return ', '.join(parts) or '-'


def _collapse_text(measures) -> str:
    found = [c for m in measures.values() for c in m['collapses'].values()]
    if not found:
        return '0'
    low = sum(c['side'] == 'low' for c in found)
    return (f'{len(found)} layer-runs, first at iteration {min(c["first"] for c in found)} '
            f'({low} stuck low, {len(found) - low} high)')


def results_table(study, results, ref_measures, params) -> List[str]:
    head = ('| variant | seeds | final metric | Δ final [Holm] | bootstrap 95 % | verdict | '
            'Δ damage@0 [Holm] | verdict @0 | Δ AP s / m / l | shock: loss (and terms) | '
            'recovery (iter) | spikes vs ref | collapsed masks | final alpha / T | '
            'contribution | grad-norm peak | added params | time / iter |')
    lines = [head, '|' + '---|' * (head.count('|') - 1)]
    ref_spikes = sum(m['spikes'] for m in ref_measures.values()) / max(
        1, sum(m['logged'] for m in ref_measures.values()))
    ref_time = [m['time_per_iter'] for m in ref_measures.values() if m['time_per_iter']]
    for name, r in results.items():
        finals = [m['precise'].get(final_step(m), {}).get(study.metric) for m in
                  r.measures.values()]
        pairs = r.pairs
        shock = _shock_text(pairs, 'loss') + ''.join(
            f'; {c} {_shock_text(pairs, c)}' for c in study.measure['components'])
        rec = ', '.join('never' if p['recovery'] is None else str(p['recovery'])
                        for p in pairs.values()) or '-'
        rate = sum(m['spikes'] for m in r.measures.values()) / max(
            1, sum(m['logged'] for m in r.measures.values()))
        spikes = '-' if name == study.reference or not ref_spikes else f'{rate / ref_spikes:.2f}x'
        sizes = ' / '.join(_f(mean([p['size'][k] for p in pairs.values() if k in p['size']])
                              if any(k in p['size'] for p in pairs.values()) else None)
                           for k in 'sml')
        grad = [m['grad_norm_max'] if m['grad_norm_max'] is not None else m['gnorm_max']
                for m in r.measures.values()]
        grad_txt = _f(max((g for g in grad if g is not None), default=None), '{:#.3g}')
        times = [m['time_per_iter'] for m in r.measures.values() if m['time_per_iter']]
        t = _f(mean(times) if times else None, '{:.3f} s')
        if times and ref_time and name != study.reference:
            t += f' ({mean(times) / mean(ref_time) - 1:+.0%})'
        parts = (_stage_text(r.measures, 'alpha'), 'T ' + _stage_text(r.measures, 'ca_T'))
        alpha_t = '; '.join(x for x in parts if x not in ('-', 'T -'))
        boot = '-' if r.bootstrap is None else f'[{r.bootstrap[0]:+.4f}, {r.bootstrap[1]:+.4f}]'
        lines.append(
            f'| {name} | {len(r.measures)} | {_ms(finals)} | {_comparison(r.final)} | {boot} | '
            f'{_verdict(r.final, study)} | {_comparison(r.damage0)} | '
            f'{_verdict(r.damage0, study)} | {sizes if pairs else "-"} | '
            f'{shock if pairs else "-"} | {rec} | {spikes} | {_collapse_text(r.measures)} | '
            f'{alpha_t or "-"} | {_stage_text(r.measures, "contribution", "{:.3f}")} | '
            f'{grad_txt} | {params.get(name, "-")} | {t} |')
    return lines


def grid_table(study, results) -> List[str]:
    """Placement x stabiliser: the final difference and its verdict, and the damage at 0."""
    placements = list(study.placements)
    lines = ['| stabiliser | ' + ' | '.join(placements) + ' |',
             '|---|' + '---|' * len(placements)]
    stabilisers = sorted({v.stabiliser for v in study.variants.values() if v.placement},
                         key=[v.stabiliser for v in study.variants.values()].index)
    for stabiliser in stabilisers:
        cells = []
        for placement in placements:
            r = results.get(f'{placement}/{stabiliser}')
            if r is None or r.final is None:
                cells.append('-')
                continue
            cells.append(f'{r.final.mean:+.4f} ({r.final.verdict}); @0 '
                         + (f'{r.damage0.mean:+.4f} ({r.damage0.verdict})' if r.damage0 else '-'))
        lines.append(f'| {stabiliser} | ' + ' | '.join(cells) + ' |')
    return lines


def recommendation(study, results, params) -> List[str]:
    """"What to use": variants ranked by damage@0, then the final difference, then cost."""
    ranked = [r for n, r in results.items() if r.final is not None and r.damage0 is not None]
    if not ranked:
        return ['- not enough finished runs to rank the variants']

    def count(name):  # '+23,044' -> 23044
        return int(str(params.get(name, '0')).replace(',', '').lstrip('+') or 0)

    ranked.sort(key=lambda r: (-r.damage0.mean, -r.final.mean, count(r.name)))
    lines = []
    for i, r in enumerate(ranked, start=1):
        conclusive = [what for what, c in (('damage@0', r.damage0), ('final', r.final))
                      if c.verdict in ('lower', 'higher', 'equivalent')]
        lines.append(f'{i}. `{r.name}`: damage@0 {r.damage0.mean:+.4f} ({r.damage0.verdict}), '
                     f'final {r.final.mean:+.4f} ({r.final.verdict}), {params.get(r.name, "?")} '
                     'params; conclusive: ' + (', '.join(conclusive) or 'nothing'))
    return lines


def write_report(study, runs: List[Run], params: Dict[str, str] = None) -> str:
    """Measure nothing, read everything: ``report*.md`` and the PNGs; returns the path."""
    from .plots import plots
    params = params or {}
    data = collect(study, runs)
    results, calibrated, notes = compare_all(study, data) if data else ({}, False, [])
    suffix = f'-{study.selection}' if study.selection else ''
    images = plots(study, data, results, osp.join(study.work_dir, f'report{suffix}')) \
        if data else []
    pre = next((r for r in runs if r.key == 'pretrain'), None)
    ref = data.get(study.reference, {})
    start = [m['precise'].get(0, {}).get(study.metric) for m in ref.values()]
    start_checkpoint = pre.final_checkpoint if pre else study.pretrain.get('checkpoint')
    lines = [f'# Stability study `{study.name}`' + (f' ({study.selection})' if suffix else ''),
             '', study.description, '',
             f'- study file: `{study.path}`; base config: `{study.base_config}`; scenario '
             f'**{study.scenario}**; seeds {study.seeds}; {len(study.variants)} variants',
             f'- pretrained plain model: `{start_checkpoint}`'
             f' -- {study.metric} as loaded (the reference before any step): {_ms(start)}. One '
             'pretraining seed: every comparison is conditional on this one pretrained model.',
             '', '## Calibration (A/A)', ''] + [f'- {n}' for n in notes] + [
        '', '## Placement × stabiliser', '',
        f'Δ final {study.metric} vs `{study.reference}` (verdict); @0: the same right after '
        'insertion, before any fine-tuning step.', ''] + grid_table(study, results) + [
        '', '## Results', ''] + results_table(study, results, ref, params) + [
        '', DEFINITIONS.format(metric=study.metric, ref=study.reference, alpha=study.alpha,
                               margin=study.margin, **study.measure), '',
        '## What to use', '', 'Ranked by the damage at insertion, then the final difference, '
        'then the parameters added. Only comparisons marked conclusive are findings; the others '
        'are what these seeds cannot tell apart.', ''] + recommendation(study, results, params)
    lines += ['', '## Plots', '']
    lines += [f'![{osp.basename(p)}]({osp.relpath(p, study.work_dir)})' for p in images]
    lines += ['', '## Runs', '', '| run | status | iterations | stopped |', '|---|---|---|---|']
    for run in runs:
        m = data.get(run.variant, {}).get(run.seed) if run.variant else None
        lines.append(f'| {run.key} | {run.status} | {m["iters"] if m else "-"} | '
                     f'{(m or {}).get("stopped") or "-"} |')
    path = osp.join(study.work_dir, f'report{suffix}.md')
    os.makedirs(study.work_dir, exist_ok=True)
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return path


DEFINITIONS = """Mean ± sd over seeds. **Δ** is the paired difference to `{ref}` (same seed:
same batches, proposal sampling and dropout, and the same starting weights), with Holm step-down
intervals at family-wise level {alpha} across the variants (an interval excludes 0 exactly when
Holm rejects). **bootstrap 95 %**: percentile interval of the seed-mean difference over
{bootstrap} resamples of the validation images (it varies the images, not the training).
**verdict**: lower / higher (Holm-adjusted p < {alpha}), equivalent (TOST with margin ±{margin},
Holm-adjusted p < {alpha}), otherwise inconclusive. Metrics are recomputed exactly from the
dumped predictions (pycocotools' COCOeval / summed IoU areas), not from the rounded log.
**damage@0**: the validation before the first fine-tuning step. **shock**: mean over the first
{shock_iters} iterations of the variant's loss (and of each term) over the reference's, minus 1
(signed, and mean |·|). **recovery**: the first iteration after which the running mean (window
{recovery_window}) of that ratio stays within {recovery_tol:.0%}; never = still outside at the
end. **spikes vs ref**: the rate of loss spikes (> {spike_factor}x the median of the previous
{spike_window} logged losses) relative to `{ref}`'s. **collapsed masks**: modules whose mask
saturation stayed above 0.95 for 3 logs (first iteration; stuck near 0 or near 1). **final
alpha / T** and **contribution** (‖out − x‖ / ‖x‖, what the attention changes) per stage at the
last log; `:out` = attention on the stage's output. **grad-norm peak**: the logged total gradient
norm with gradient clipping, else the largest attention-module gradient norm. **added params**:
trainable parameters the attention adds. Time per iteration: a shared machine, differences of a
few % are noise."""
