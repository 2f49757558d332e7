"""Plot and compare the attention stability of one or more training runs.

Usage::

    python tools/analysis/plot_stability.py WORK_DIR [WORK_DIR ...] [--out-dir DIR]
        [--names NAME ...] [--collapse-threshold 0.95] [--spike-factor 2.0]

Reads ``<work dir>/<timestamp>/vis_data/scalars.json`` of each run (every timestamp, so resumed
runs are joined) and writes to ``--out-dir`` (default ``<first work dir>/stability``):

* ``loss.png`` -- the training loss of every run;
* ``<statistic>.png`` -- one figure per statistic logged by CBAMStabilityHook (``alpha``,
  ``ca_T``, ``sa_T``, ``fusion_avg``, ``router_w0``, ``sa_sat_hi``, ``gnorm`` ...), one panel per
  run, one curve per layer;
* ``summary.md`` -- per run: final validation metrics, loss spikes (a logged loss above
  ``--spike-factor`` times the median of the previous 10 logs), alpha / temperature trajectories
  (first -> last, per layer), collapsed layers (mask saturation above the threshold at the last
  log) and layers with non-finite values.
"""
import argparse
import json
import os
import os.path as osp
import re
import sys
from collections import defaultdict
from glob import glob
from statistics import median
from typing import Dict, List, Tuple

STAT_RE = re.compile(r'^cbam/(?P<layer>.+)/(?P<stat>[^/]+)$')
METRIC_KEYS = ('coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/segm_mAP', 'mIoU', 'aAcc', 'mAcc')


def load_run(work_dir: str) -> Dict:
    """Training and validation scalars of a run, joined over its timestamps."""
    files = sorted(glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    if not files:
        raise FileNotFoundError(f'no */vis_data/scalars.json under {work_dir}: is it a work dir '
                                'of tools/train.py?')
    train: Dict[int, Dict[str, float]] = {}
    val: Dict[int, Dict[str, float]] = {}
    for path in files:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                entry = json.loads(line)
                step = int(entry.get('step', entry.get('iter', 0)))
                if 'loss' in entry or any(k.startswith('cbam/') for k in entry):
                    train[int(entry.get('iter', step))] = entry
                elif any(k in entry for k in METRIC_KEYS):
                    val[step] = entry
    curves: Dict[str, Dict[str, List[Tuple[int, float]]]] = defaultdict(lambda: defaultdict(list))
    loss = []
    for it in sorted(train):
        entry = train[it]
        if 'loss' in entry:
            loss.append((it, float(entry['loss'])))
        for key, value in entry.items():
            m = STAT_RE.match(key)
            if m:
                curves[m['stat']][m['layer']].append((it, float(value)))
    metrics = {}
    if val:
        last = val[max(val)]
        metrics = {k: float(last[k]) for k in METRIC_KEYS if k in last}
    return dict(loss=loss, curves=curves, metrics=metrics, files=files)


def loss_spikes(loss: List[Tuple[int, float]], factor: float) -> List[int]:
    spikes = []
    for i in range(3, len(loss)):
        ref = median(v for _, v in loss[max(0, i - 10):i])
        if ref > 0 and loss[i][1] > factor * ref:
            spikes.append(loss[i][0])
    return spikes


def _plot(out_path: str, title: str, panels: List[Tuple[str, Dict[str, list]]], ylabel: str):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 3.8), squeeze=False,
                             sharey=True)
    for ax, (run, lines) in zip(axes[0], panels):
        for label, points in sorted(lines.items()):
            if points:
                xs, ys = zip(*points)
                ax.plot(xs, ys, label=label, linewidth=1.2)
        ax.set_title(run, fontsize=9)
        ax.set_xlabel('iteration')
        ax.grid(alpha=0.3)
        if len(lines) <= 16:
            ax.legend(fontsize=6, loc='best')
    axes[0][0].set_ylabel(ylabel)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(out_path, dpi=110)
    plt.close(fig)


def summarize(name: str, run: Dict, threshold: float, factor: float) -> List[str]:
    lines = [f'## {name}', '']
    metrics = ', '.join(f'{k} = {v:.4g}' for k, v in run['metrics'].items()) or 'none logged'
    lines.append(f'- final validation metrics: {metrics}')
    if run['loss']:
        spikes = loss_spikes(run['loss'], factor)
        first, last = run['loss'][0][1], run['loss'][-1][1]
        lines.append(f'- loss: {first:.4g} -> {last:.4g} over {run["loss"][-1][0]} iterations; '
                     f'{len(spikes)} spike(s) above {factor}x the running median'
                     + (f' at iterations {spikes[:10]}' if spikes else ''))
    curves = run['curves']
    layers = sorted({layer for stat in curves.values() for layer in stat})
    lines.append(f'- attention modules logged: {len(layers)}')
    collapsed, nonfinite = [], []
    def last(stat, layer):
        return curves.get(stat, {}).get(layer, [(0, 0.0)])[-1][1]

    for layer in layers:
        saturation = max(last(f'{m}_sat_lo', layer) + last(f'{m}_sat_hi', layer)
                         for m in ('ca', 'sa'))
        if saturation > threshold:
            collapsed.append(layer)
        if any(v > 0 for _, v in curves.get('nonfinite', {}).get(layer, [])):
            nonfinite.append(layer)
    lines.append(f'- collapsed layers (mask saturation > {threshold:.0%} at the last log): '
                 + (', '.join(collapsed) if collapsed else 'none'))
    lines.append('- layers with non-finite values: ' + (', '.join(nonfinite) or 'none'))
    tracked = [s for s in ('alpha', 'ca_T', 'sa_T', 'fusion_avg', 'router_entropy') if s in curves]
    if tracked and layers:
        lines += ['', '| layer | ' + ' | '.join(f'{s} first -> last' for s in tracked) + ' |',
                  '|---|' + '---|' * len(tracked)]
        for layer in layers:
            cells = []
            for stat in tracked:
                pts = curves[stat].get(layer)
                cells.append(f'{pts[0][1]:.3g} -> {pts[-1][1]:.3g}' if pts else '-')
            lines.append(f'| {layer} | ' + ' | '.join(cells) + ' |')
    return lines + ['']


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('work_dirs', nargs='+')
    parser.add_argument('--out-dir')
    parser.add_argument('--names', nargs='+', help='run names (default: work dir names)')
    parser.add_argument('--collapse-threshold', type=float, default=0.95)
    parser.add_argument('--spike-factor', type=float, default=2.0)
    args = parser.parse_args(argv)
    names = args.names or [osp.basename(osp.normpath(d)) for d in args.work_dirs]
    if len(names) != len(args.work_dirs):
        parser.error('--names needs one name per work dir')
    runs = {name: load_run(d) for name, d in zip(names, args.work_dirs)}
    out_dir = args.out_dir or osp.join(args.work_dirs[0], 'stability')
    os.makedirs(out_dir, exist_ok=True)

    written = []
    path = osp.join(out_dir, 'loss.png')
    _plot(path, 'training loss', [('all runs', {n: r['loss'] for n, r in runs.items()})], 'loss')
    written.append(path)
    stats = sorted({s for r in runs.values() for s in r['curves']})
    for stat in stats:
        path = osp.join(out_dir, f'{stat}.png')
        _plot(path, f'CBAM {stat} per layer', [(n, r['curves'].get(stat, {}))
                                               for n, r in runs.items()], stat)
        written.append(path)

    report = ['# CBAM stability summary', '',
              f'Runs: {", ".join(names)}. Plots: ' + ', '.join(
                  f'`{osp.basename(p)}`' for p in written), '']
    if len(runs) > 1:
        report += ['| run | ' + ' | '.join(METRIC_KEYS) + ' | loss spikes |',
                   '|---|' + '---|' * (len(METRIC_KEYS) + 1)]
        for name, run in runs.items():
            cells = [f"{run['metrics'][k]:.4g}" if k in run['metrics'] else '-'
                     for k in METRIC_KEYS]
            report.append(f'| {name} | ' + ' | '.join(cells) +
                          f" | {len(loss_spikes(run['loss'], args.spike_factor))} |")
        report.append('')
    for name, run in runs.items():
        report += summarize(name, run, args.collapse_threshold, args.spike_factor)
    summary = osp.join(out_dir, 'summary.md')
    with open(summary, 'w') as f:
        f.write('\n'.join(report))
    print(f'{len(written)} plots and {summary} written to {out_dir}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
