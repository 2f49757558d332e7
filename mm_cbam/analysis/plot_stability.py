"""Plot and compare the attention stability of one or more training runs.

Usage::

    python -m mm_cbam.analysis.plot_stability WORK_DIR [WORK_DIR ...] [--out-dir DIR]
        [--names NAME ...] [--collapse-threshold 0.95] [--spike-factor 2.0]

Reads ``<work dir>/<timestamp>/vis_data/scalars.json`` of each run (every timestamp, so resumed
runs are joined) and writes to ``--out-dir`` (default ``<first work dir>/stability``):

* ``loss.png`` -- the training loss of every run;
* ``<statistic>.png`` -- one figure per statistic logged by CBAMStabilityHook (``alpha``,
  ``ca_T``, ``sa_T``, ``fusion_avg``, ``router_w0``, ``sa_sat_hi``, ``gnorm`` ...), one panel per
  run, one curve per layer;
* ``summary.md`` -- per run: final validation metrics, loss spikes (a logged loss above
  ``--spike-factor`` times the median of the previous 10 logs), alpha / temperature trajectories
  (first -> last, per layer), collapsed layers (mask saturation above the threshold for 3 logs in
  a row, as the stability hook's alarm) and layers with non-finite values.

Parsing, spikes and collapses are :mod:`mm_cbam.study.logs`, as in the stability study.
"""
import argparse
import os
import os.path as osp
import sys
from typing import Dict, List, Tuple

from mm_cbam.runner import run_files
from mm_cbam.study import logs

METRIC_KEYS = ('coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/segm_mAP', 'mIoU', 'aAcc', 'mAcc')


def load_run(work_dir: str) -> Dict:
    """Loss, per-module statistics and final validation metrics of a run (the study's log
    parser: every timestamp of a resumed run, later lines win)."""
    if not run_files.scalars_files(work_dir):
        raise FileNotFoundError(f'no */vis_data/scalars.json under {work_dir}: is it a work dir '
                                'of mm_cbam.train?')
    train, val = logs.read_scalars(work_dir)
    by_stat: Dict[str, Dict[str, list]] = {}
    for layer, stats in logs.module_series(train).items():
        for stat, points in stats.items():
            by_stat.setdefault(stat, {})[layer] = points
    last = val[max(val)] if val else {}
    return dict(loss=logs.series(train, 'loss'), curves=by_stat, train=train,
                metrics={k: float(last[k]) for k in METRIC_KEYS if k in last})


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
        spikes = logs.spikes(run['loss'], factor, window=10)
        first, last = run['loss'][0][1], run['loss'][-1][1]
        lines.append(f'- loss: {first:.4g} -> {last:.4g} over {run["loss"][-1][0]} iterations; '
                     f'{len(spikes)} spike(s) above {factor}x the running median'
                     + (f' at iterations {spikes[:10]}' if spikes else ''))
    curves = run['curves']
    layers = sorted({layer for stat in curves.values() for layer in stat})
    lines.append(f'- attention modules logged: {len(layers)}')
    collapsed = logs.collapses(run['train'], threshold)
    nonfinite = [layer for layer in layers
                 if any(v > 0 for _, v in curves.get('nonfinite', {}).get(layer, []))]
    lines.append(f'- collapsed layers (mask saturation > {threshold:.0%} for 3 logs in a row, '
                 'the stability alarm): ' + (', '.join(
                     f"{layer} (from iteration {c['first']}, stuck {c['side']})"
                     for layer, c in collapsed.items()) or 'none'))
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
            spikes = logs.spikes(run['loss'], args.spike_factor, window=10)
            report.append(f'| {name} | ' + ' | '.join(cells) + f' | {len(spikes)} |')
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
