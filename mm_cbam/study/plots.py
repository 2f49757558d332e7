"""The study's PNGs (one figure per question, a panel per placement):

* ``validation.png`` -- the metric during fine-tuning (mean over seeds; step 0 is the model as
  inserted);
* ``shock.png`` -- the running-mean ratio of each variant's loss (and of each compared term) to
  the reference's, seed by seed, then averaged (dashed: the recovery tolerance);
* ``attention.png`` -- alpha, temperature and contribution per stage over training.
"""
import os
import os.path as osp
from statistics import mean
from typing import Dict, List

from .compare import metric_at


def _panels(study) -> Dict[str, List[str]]:
    """``placement -> variants`` (the reference and calibration in every panel)."""
    common = [study.reference] + ([study.calibration] if study.calibration else [])
    panels = {p: list(common) for p in study.placements}
    for name, variant in study.variants.items():
        if variant.placement:
            panels[variant.placement].append(name)
    return panels


def _mean_curve(curves: List[Dict[int, float]]):
    its = sorted(set.intersection(*[set(c) for c in curves])) if curves else []
    return its, [mean(c[i] for c in curves) for i in its]


def _running(values: Dict[int, float], ref: Dict[int, float], window: int) -> Dict[int, float]:
    its = [i for i in sorted(values) if i in ref]
    out = {}
    for n, it in enumerate(its):
        span = its[max(0, n - window + 1):n + 1]
        den = sum(ref[i] for i in span)
        if den:
            out[it] = sum(values[i] for i in span) / den
    return out


def plots(study, data, results, out_dir: str) -> List[str]:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    os.makedirs(out_dir, exist_ok=True)
    panels = _panels(study)
    # one colour per stabiliser, the same in every panel; the reference black, the calibration
    # grey and dotted
    order = list(dict.fromkeys(n.split('/')[-1] for n in study.variants if '/' in n))
    colors = {s: plt.cm.tab10(i % 10) for i, s in enumerate(order)}
    colors[study.reference] = 'black'
    if study.calibration:
        colors[study.calibration] = 'grey'

    def style(name: str) -> dict:
        short = name.split('/')[-1]
        return dict(color=colors.get(short, 'C0'), label=short,
                    linestyle=':' if name == study.calibration else '-')

    written = []

    def figure(rows: int, title: str):
        fig, axes = plt.subplots(rows, len(panels), figsize=(6 * len(panels), 3.6 * rows),
                                 squeeze=False)
        fig.suptitle(title, fontsize=10)
        return fig, axes

    def save(fig, name, legend=True):
        if legend:  # one legend for the figure, outside the panels
            handles = {}
            for ax in fig.axes:
                for h, label in zip(*ax.get_legend_handles_labels()):
                    handles.setdefault(label, h)
            labels = sorted(handles, key=lambda label: label.startswith('stage '))  # stages last
            fig.legend([handles[k] for k in labels], labels, loc='center right', fontsize=8)
            fig.tight_layout(rect=(0, 0, 0.86, 0.97))
        else:
            fig.tight_layout(rect=(0, 0, 1, 0.97))
        written.append(osp.join(out_dir, name))
        fig.savefig(written[-1], dpi=100)
        plt.close(fig)

    fig, axes = figure(1, f'{study.metric} during fine-tuning (mean over seeds; step 0: as '
                          'inserted)')
    for ax, (placement, members) in zip(axes[0], panels.items()):
        for name in members:
            curves = [{s: v for s in sorted(set(m['precise']) | set(m['val']))
                       for v in [metric_at(m, s, study.metric)] if v is not None}
                      for m in data.get(name, {}).values()]
            its, ys = _mean_curve([c for c in curves if c])
            if its:
                ax.plot(its, ys, marker='o', ms=3, **style(name))
        ax.set(title=placement, xlabel='iteration', ylabel=study.metric)
        ax.grid(alpha=0.3)
    save(fig, 'validation.png')

    terms = ['loss'] + list(study.measure['components'])
    fig, axes = figure(len(terms), 'ratio to the reference (running mean, same seed), averaged '
                                   'over seeds; dashed: recovery tolerance')
    ref = data.get(study.reference, {})
    for col, (placement, members) in enumerate(panels.items()):
        for row, term in enumerate(terms):
            ax = axes[row][col]
            for name in members:
                if name == study.reference:
                    continue
                curves = []
                for seed, m in data.get(name, {}).items():
                    if seed not in ref:
                        continue
                    v = m['loss'] if term == 'loss' else m['components'].get(term, {})
                    r = ref[seed]['loss'] if term == 'loss' else ref[seed]['components'].get(
                        term, {})
                    curves.append(_running(v, r, study.measure['recovery_window']))
                its, ys = _mean_curve([c for c in curves if c])
                if its:
                    ax.plot(its, ys, **style(name))
            tol = study.measure['recovery_tol']
            for y in (1 - tol, 1 + tol):
                ax.axhline(y, color='k', linestyle='--', linewidth=0.7)
            ax.set(title=f'{placement}: {term}', xlabel='iteration', ylabel='ratio')
            if any(max(line.get_ydata(), default=1) > 3 for line in ax.lines):
                ax.set_yscale('log')  # ratios of tens next to ones
            ax.grid(alpha=0.3)
    save(fig, 'shock.png')

    stats = ('alpha', 'ca_T', 'contribution')
    fig, axes = figure(len(stats), 'attention per stage over training (mean over seeds and '
                                   "the stage's modules; line style: stage)")
    dashes = ['-', '--', ':', '-.']
    for col, (placement, members) in enumerate(panels.items()):
        for row, stat in enumerate(stats):
            ax = axes[row][col]
            for name in members:
                if name == study.calibration:  # alpha 0 everywhere: nothing to see
                    continue
                per_stage = {}
                for m in data.get(name, {}).values():
                    for stage, points in m['curves'].get(stat, {}).items():
                        per_stage.setdefault(stage, []).append(dict(points))
                for k, (stage, curves) in enumerate(sorted(per_stage.items())):
                    its, ys = _mean_curve(curves)
                    if its:
                        ax.plot(its, ys, linewidth=1, **dict(
                            style(name), linestyle=dashes[k % len(dashes)],
                            label=name.split('/')[-1] if k == 0 else None))
                        ax.plot([], [], color='k', linestyle=dashes[k % len(dashes)],
                                label=f'stage {stage}')
            ax.set(title=f'{placement}: {stat}', xlabel='iteration')
            ax.grid(alpha=0.3)
    save(fig, 'attention.png')
    return written
