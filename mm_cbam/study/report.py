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
from .compare import compare_all, final_step, metric_at
from .definitions import DEFINITIONS
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
            'equivalent': f'equivalent within ±{study.margin:g}',
            'identical': 'identical (by construction)'}.get(c.verdict, c.verdict)


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


def _rounded_note(data, metric: str) -> List[str]:
    """A line when some runs have no exact metric (their evaluation could not be recomputed:
    the logged, rounded value is used and they have no bootstrap)."""
    rounded = [f'{v}/seed{s}' for v, by_seed in data.items() for s, m in by_seed.items()
               if metric not in (m.get('precise') or {}).get(final_step(m), {})]
    if not rounded:
        return []
    return [f'- **{len(rounded)} runs without an exact {metric}** (their predictions could not be '
            'rescored: the logged, rounded value is used, without bootstrap): '
            + ', '.join(rounded[:8]) + (' ...' if len(rounded) > 8 else '')]


def _placement_text(placement: dict) -> str:
    if 'plugins' in placement:
        plugins = placement['plugins']
        return (f"a plugin {plugins['position']} in every block of the stages "
                f"{[i + 1 for i, on in enumerate(plugins['stages']) if on]}")
    where = [f"after {', '.join(placement['after'])}"] if placement.get('after') else []
    return ' and '.join(where + (['on every neck output'] if placement.get('neck') else []))


def results_table(study, results, ref_measures, params) -> List[str]:
    head = ('| variant | seeds | final metric | Δ final [Holm] | bootstrap 95 % | verdict | '
            'Δ damage@0 [Holm] | verdict @0 | Δ AP s / m / l | shock: loss (and terms) | '
            'recovery (iter) | spikes vs ref | collapsed masks | final alpha / T | '
            'contribution | grad-norm peak | added params | time / iter (shared cores) |')
    lines = [head, '|' + '---|' * (head.count('|') - 1)]
    ref_spikes = sum(m['spikes'] for m in ref_measures.values()) / max(
        1, sum(m['logged'] for m in ref_measures.values()))
    ref_time = [m['time_per_iter'] for m in ref_measures.values() if m['time_per_iter']]
    for name, r in results.items():
        finals = [metric_at(m, final_step(m), study.metric) for m in r.measures.values()]
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
        variant = study.variants.get(name)
        warm = warm_verdict = ''
        if r.warmup_end is not None:
            warm = f'; end of warm-up (iter {variant.warmup_iters}) {_comparison(r.warmup_end)}'
            warm_verdict = f'; end of warm-up: {_verdict(r.warmup_end, study)}'
        lines.append(
            f'| {name} | {len(r.measures)} | {_ms(finals)} | {_comparison(r.final)} | {boot} | '
            f'{_verdict(r.final, study)} | {_comparison(r.damage0)}{warm} | '
            f'{_verdict(r.damage0, study)}{warm_verdict} | {sizes if pairs else "-"} | '
            f'{shock if pairs else "-"} | {rec} | {spikes} | '
            f'{"-" if name == study.reference else _collapse_text(r.measures)} | '
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
            cell = f'{r.final.mean:+.4f} ({r.final.verdict}); @0 ' + (
                f'{r.damage0.mean:+.4f} ({r.damage0.verdict})' if r.damage0 else '-')
            if r.warmup_end is not None:
                cell += f'; @warm-up end {r.warmup_end.mean:+.4f} ({r.warmup_end.verdict})'
            cells.append(cell)
        lines.append(f'| {stabiliser} | ' + ' | '.join(cells) + ' |')
    return lines


def _inactive(r) -> bool:
    """Whether the attention changed (almost) nothing: every stage's contribution < 1 %."""
    values = [v.get('contribution') for m in r.measures.values() for v in m['stages'].values()]
    values = [v for v in values if v is not None]
    return bool(values) and max(values) < 0.01


def recommendation(study, results, params) -> List[str]:
    """"What to use": variants ranked by the damage (at insertion, or at the end of a warm-up,
    whichever is worse), then the final difference, then cost."""
    ranked = [r for n, r in results.items() if r.final is not None and r.damage is not None]
    if not ranked:
        return ['- not enough finished runs to rank the variants']

    def count(name):  # '+23,044' -> 23044
        return int(str(params.get(name, '0')).replace(',', '').lstrip('+') or 0)

    ranked.sort(key=lambda r: (-r.damage.mean, -r.final.mean, count(r.name)))
    lines = []
    for i, r in enumerate(ranked, start=1):
        at = 'at the end of the warm-up' if r.damage is r.warmup_end else '@0'
        conclusive = [what for what, c in (('damage', r.damage), ('final', r.final))
                      if c.verdict in ('lower', 'higher', 'equivalent')]
        note = ('; the attention stayed inactive (contribution < 1 % in every stage): this '
                'says nothing about what it would do once active') if _inactive(r) else ''
        lines.append(f'{i}. `{r.name}`: damage {at} {r.damage.mean:+.4f} ({r.damage.verdict}), '
                     f'final {r.final.mean:+.4f} ({r.final.verdict}), {params.get(r.name, "?")} '
                     'params; conclusive: ' + (', '.join(conclusive) or 'nothing') + note)
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
             '- placements: ' + '; '.join(f'`{n}` = {_placement_text(p)}'
                                          for n, p in study.placements.items()),
             ] + _rounded_note(data, study.metric) + [
             '', '## Calibration (A/A)', ''] + [f'- {n}' for n in notes] + [
        '', '## Placement × stabiliser', '',
        f'Δ final {study.metric} vs `{study.reference}` (verdict); @0: the same right after '
        'insertion, before any fine-tuning step.', ''] + grid_table(study, results) + [
        '', '## Results', ''] + results_table(study, results, ref, params) + [
        '', DEFINITIONS.format(metric=study.metric, ref=study.reference, alpha=study.alpha,
                               margin=study.margin, **study.measure), '',
        '## What to use', '', 'Ranked by the damage the insertion does (right after it, or at '
        'the end of a warm-up, which defers it: whichever is worse), then the final difference, '
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
