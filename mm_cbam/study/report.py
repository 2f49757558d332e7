"""The study report: ``<study dir>/report.md`` and ``<study dir>/report/*.png``, regenerated from
the runs' own logs (:mod:`.measure`) every time.

Over seeds: mean +- sample standard deviation. Against the reference variant: the paired
difference per seed (same seed = same data order and, in the insert scenario, the same starting
weights), its mean and a 95 % t confidence interval. A difference is called supported only when
that interval excludes 0; with one seed no interval exists and nothing is concluded.
"""
import math
import os
import os.path as osp
from statistics import mean, stdev
from typing import Dict, List, Optional, Sequence, Tuple

from .measure import CURVE_STATS, measure_run
from .plan import Run
from .spec import Study

# two-sided 95 % quantiles of Student's t, df = 1..30 (larger df: 1.96)
T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
       2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060,
       2.056, 2.052, 2.048, 2.045, 2.042]


def paired_ci(diffs: Sequence[float]) -> Tuple[float, Optional[float], Optional[float]]:
    """Mean of paired differences and its 95 % t interval (None, None for one pair)."""
    m = mean(diffs)
    if len(diffs) < 2:
        return m, None, None
    half = (T95[len(diffs) - 2] if len(diffs) - 1 <= len(T95) else 1.96) * stdev(diffs) \
        / math.sqrt(len(diffs))
    return m, m - half, m + half


def _ms(values: List[float], fmt: str = '{:.3f}', scale: float = 1.0) -> str:
    values = [v * scale for v in values if v is not None]
    if not values:
        return '-'
    if len(values) == 1:
        return fmt.format(values[0])
    return f"{fmt.format(mean(values))} ± {fmt.replace('{:+', '{:').format(stdev(values))}"


def collect(study: Study, runs: List[Run]) -> Dict[str, Dict[int, dict]]:
    """``variant -> seed -> measures`` of the finished runs (reference runs first)."""
    by_key = {r.key: r for r in runs}
    out: Dict[str, Dict[int, dict]] = {}
    order = [study.reference] + [v for v in study.variants if v != study.reference]
    for name in order:
        for seed in study.seeds:
            run = by_key.get(f'{name}/seed{seed}')
            if run is None or not osp.isdir(run.work_dir):
                continue
            ref = out.get(study.reference, {}).get(seed)
            reference = ref['loss'] if (ref and name != study.reference
                                        and study.scenario == 'insert') else None
            out.setdefault(name, {})[seed] = measure_run(run.work_dir, run.final_checkpoint,
                                                         study.metric, study.measure, reference)
    return out


def verdicts(study: Study, data: Dict[str, Dict[int, dict]]) -> List[str]:
    """Plain statements of what the seeds can and cannot support."""
    lines, ref = [], data.get(study.reference, {})
    tol = study.measure['recovery_tol']
    for name, seeds in data.items():
        if name == study.reference:
            continue
        pairs = [(s, m['metric'], ref[s]['metric']) for s, m in seeds.items()
                 if s in ref and m['metric'] is not None and ref[s]['metric'] is not None]
        text = f'- **{name}**: '
        if not pairs:
            text += 'no finished pair with the reference yet; '
        else:
            d, lo, hi = paired_ci([a - b for _, a, b in pairs])
            if lo is None:
                text += (f'{study.metric} {d:+.4f} vs {study.reference} from a single seed: no '
                         'confidence interval, no conclusion; ')
            elif lo > 0 or hi < 0:
                text += (f'{study.metric} {d:+.4f} vs {study.reference}, 95 % CI [{lo:+.4f}, '
                         f'{hi:+.4f}] excludes 0: the {len(pairs)} seeds support a difference; ')
            else:
                text += (f'{study.metric} {d:+.4f} vs {study.reference}, 95 % CI [{lo:+.4f}, '
                         f'{hi:+.4f}] includes 0: the {len(pairs)} seeds cannot tell it from no '
                         'difference; ')
        shocks = [m['shock'] for m in seeds.values() if m['shock'] is not None]
        if shocks:
            rng = f'{min(shocks):+.1%} .. {max(shocks):+.1%}'
            if all(s > tol for s in shocks):
                text += f'loss shock above the {tol:.0%} tolerance in every seed ({rng})'
            elif all(s <= tol for s in shocks):
                text += f'no loss shock beyond {tol:.0%} in any seed ({rng})'
            else:
                text += f'loss shock above {tol:.0%} in some seeds only ({rng})'
        lines.append(text.rstrip('; '))
    return lines


def table(study: Study, data: Dict[str, Dict[int, dict]]) -> List[str]:
    ref = data.get(study.reference, {})
    ref_w = next((m['weights'] for m in ref.values() if m['weights']), None)
    ref_t = [m['time_per_iter'] for m in ref.values() if m['time_per_iter']]
    head = (f'| variant | seeds | {study.metric} | Δ vs {study.reference} (95 % CI) | shock | '
            'recovery (iter) | loss spikes / run | alarms | grad-norm peak | time / iter | '
            'added weights |')
    lines = [head, '|' + '---|' * (head.count('|') - 1)]
    for name, seeds in data.items():
        runs = list(seeds.values())
        metric = _ms([m['metric'] for m in runs], '{:.4f}')
        diffs = [m['metric'] - ref[s]['metric'] for s, m in seeds.items()
                 if name != study.reference and s in ref and m['metric'] is not None
                 and ref[s]['metric'] is not None]
        if diffs:
            d, lo, hi = paired_ci(diffs)
            delta = f'{d:+.4f}' + (f' [{lo:+.4f}, {hi:+.4f}]' if lo is not None else ' (1 seed)')
        else:
            delta = '-'
        shock = _ms([m['shock'] for m in runs], '{:+.1f} %', 100.0)
        recovery = ', '.join('never' if m['recovery'] is None else str(m['recovery'])
                             for m in runs) if any(m['shock'] is not None for m in runs) else '-'
        spikes = _ms([float(m['spikes']) for m in runs], '{:.1f}')
        alarms = str(sum(m['alarms'] for m in runs))
        gpeak = max((m['grad_norm_max'] for m in runs if m['grad_norm_max'] is not None),
                    default=None)
        times = [m['time_per_iter'] for m in runs if m['time_per_iter']]
        t = f'{mean(times):.3f} s' if times else '-'
        if times and ref_t and name != study.reference:
            t += f' ({mean(times) / mean(ref_t) - 1:+.0%})'
        w = next((m['weights'] for m in runs if m['weights']), None)
        added = '-' if w is None or ref_w is None else (
            f'{w - ref_w:+,d} ({(w - ref_w) / ref_w:+.2%})' if name != study.reference else
            f'{w:,d} (total)')
        lines.append(f'| {name} | {len(runs)} | {metric} | {delta} | {shock} | {recovery} | '
                     f'{spikes} | {alarms} | {"-" if gpeak is None else f"{gpeak:#.3g}"} | {t} | '
                     f'{added} |')
    return lines


def _smooth(points: List[Tuple[int, float]], window: int) -> Tuple[List[int], List[float]]:
    xs = [p[0] for p in points]
    ys = [mean(v for _, v in points[max(0, i - window + 1):i + 1]) for i in range(len(points))]
    return xs, ys


def plots(study: Study, data: Dict[str, Dict[int, dict]], out_dir: str) -> List[str]:
    """loss.png, shock.png (insert) and one PNG per attention statistic (a panel per stage)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    os.makedirs(out_dir, exist_ok=True)
    written, window = [], study.measure['recovery_window']
    colors = {name: plt.cm.tab10(i % 10) for i, name in enumerate(data)}

    def save(fig, ax, name):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, ncol=2)
        fig.tight_layout()
        written.append(osp.join(out_dir, name))
        fig.savefig(written[-1], dpi=110)
        plt.close(fig)

    def seed_band(series_per_seed):
        its = sorted(set.intersection(*[set(s) for s in series_per_seed]))
        rows = [[s[i] for i in its] for s in series_per_seed]
        return its, [mean(c) for c in zip(*rows)], [min(c) for c in zip(*rows)], \
            [max(c) for c in zip(*rows)]

    fig, ax = plt.subplots(figsize=(9, 4.5))
    for name, seeds in data.items():
        smoothed = [dict(zip(*_smooth(sorted(m['loss'].items()), window)))
                    for m in seeds.values() if m['loss']]
        if not smoothed:
            continue
        its, mid, lo, hi = seed_band(smoothed)
        ax.plot(its, mid, label=name, color=colors[name], linewidth=1.3)
        ax.fill_between(its, lo, hi, color=colors[name], alpha=0.15)
    ax.set(xlabel='iteration', ylabel=f'loss (running mean of {window})',
           title=f'{study.name}: training loss, mean and range over {len(study.seeds)} seed(s)')
    save(fig, ax, 'loss.png')

    ref = data.get(study.reference, {})
    if study.scenario == 'insert' and ref:
        fig, ax = plt.subplots(figsize=(9, 4.5))
        for name, seeds in data.items():
            rel = []
            for s, m in seeds.items():
                if name == study.reference or s not in ref:
                    continue
                common = [i for i in sorted(m['loss']) if i in ref[s]['loss']]
                xs, v = _smooth([(i, m['loss'][i]) for i in common], window)
                _, r = _smooth([(i, ref[s]['loss'][i]) for i in common], window)
                rel.append({x: a / b - 1 for x, a, b in zip(xs, v, r)})
            if rel:
                its, mid, lo, hi = seed_band(rel)
                ax.plot(its, [100 * v for v in mid], label=name, color=colors[name])
                ax.fill_between(its, [100 * v for v in lo], [100 * v for v in hi],
                                color=colors[name], alpha=0.15)
        ax.axhline(100 * study.measure['recovery_tol'], color='k', linestyle='--', linewidth=0.8)
        ax.set(xlabel='iteration', ylabel=f'loss vs {study.reference} (%)',
               title='shock and recovery after inserting attention (dashed: tolerance)')
        save(fig, ax, 'shock.png')

    for stat in CURVE_STATS:
        stages = sorted({st for seeds in data.values() for m in seeds.values()
                         for st in m['curves'].get(stat, {})})
        if not stages:
            continue
        fig, axes = plt.subplots(1, len(stages), figsize=(4.2 * len(stages), 3.6), squeeze=False,
                                 sharey=True)
        for ax, stage in zip(axes[0], stages):
            for name, seeds in data.items():
                per_seed = [dict(m['curves'][stat][stage]) for m in seeds.values()
                            if stage in m['curves'].get(stat, {})]
                if per_seed:
                    its, mid, _, _ = seed_band(per_seed)
                    ax.plot(its, mid, label=name, color=colors[name], linewidth=1.2)
            ax.set(title=stage, xlabel='iteration')
            ax.grid(alpha=0.3)
        axes[0][0].set_ylabel(stat)
        axes[0][-1].legend(fontsize=7)
        fig.suptitle(f'{stat} per stage (mean over layers and seeds)', fontsize=10)
        fig.tight_layout()
        written.append(osp.join(out_dir, f'{stat}.png'))
        fig.savefig(written[-1], dpi=110)
        plt.close(fig)
    return written


def write_report(study: Study, runs: List[Run]) -> str:
    """Measure the finished runs and write ``report.md`` and the PNGs; returns the report path."""
    data = collect(study, runs)
    out_dir = osp.join(study.work_dir, 'report')
    images = plots(study, data, out_dir) if data else []
    m = study.measure
    pre = next((r for r in runs if r.key == 'pretrain'), None)
    lines = [f'# Stability study `{study.name}`', '', study.description or '', '',
             f'- study file: `{study.path}`; base config: `{study.base_config}`',
             f'- scenario: **{study.scenario}**'
             + (' (every variant fine-tuned from the same plain baseline)'
                if study.scenario == 'insert' else ' (every variant trained from scratch)'),
             f'- seeds: {study.seeds}; learning-rate multiplier: {study.lr_mult:g}',
             f'- run options: `{study.run_options}`'
             + (f'; study --cfg-options: `{study.user_options}`' if study.user_options else '')]
    if pre is not None and osp.isdir(pre.work_dir):
        from .measure import read_metrics
        pm = read_metrics(pre.work_dir).get(study.metric)
        lines.append(f'- pretrained plain baseline: `{pre.final_checkpoint}`'
                     + (f' ({study.metric} {pm:.4f})' if pm is not None else ''))
    elif study.pretrain.get('checkpoint'):
        lines.append(f"- pretrained plain baseline: `{study.pretrain['checkpoint']}`")
    lines += ['', '## Results', ''] + table(study, data) + [
        '', f"Mean ± standard deviation over seeds. Δ: paired difference to `{study.reference}` "
        'per seed, mean and 95 % t interval. Shock: mean loss over the first '
        f"{m['shock_iters']} iterations relative to `{study.reference}` on the same batches. "
        f"Recovery: first iteration whose running mean loss (window {m['recovery_window']}) is "
        f"within {m['recovery_tol']:.0%} of `{study.reference}`'s (per seed). Loss spikes: "
        f"loss > {m['spike_factor']}x the median of the previous {m['spike_window']} logged "
        'losses. Alarms: CBAMStabilityHook alarms, all seeds together. Grad-norm peak: largest '
        'total gradient norm logged (before clipping). Time / iter: median per run (a shared '
        'machine: differences of a few % are noise). Added weights: entries of the final '
        'state_dict.', '',
        '## What the seeds support', ''] + (verdicts(study, data) or ['- no finished runs']) + [
        '', '## Plots', ''] + [f'![{osp.basename(p)}](report/{osp.basename(p)})' for p in images]
    lines += ['', '## Runs', '', '| run | status | iterations | final loss | metric |',
              '|---|---|---|---|---|']
    for run in runs:
        if run.key == 'pretrain':
            continue
        meas = data.get(run.variant, {}).get(run.seed)
        lines.append(f'| {run.key} | {run.status} | {meas["iters"] if meas else "-"} | '
                     + (f'{meas["final_loss"]:.4f}' if meas and meas['final_loss'] else '-')
                     + ' | ' + (f'{meas["metric"]:.4f}' if meas and meas['metric'] is not None
                                else '-') + ' |')
    path = osp.join(study.work_dir, 'report.md')
    os.makedirs(study.work_dir, exist_ok=True)
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return path
