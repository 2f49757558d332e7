"""What a study measures in each run, from the run's own logs.

Inputs: ``<run>/<timestamp>/vis_data/scalars.json`` (every timestamp, so resumed runs are joined;
a later line for the same iteration wins), ``<run>/test/*/metrics.json`` and the final checkpoint.
Study runs log every iteration with a window of 1, so ``loss`` is the loss of that iteration.

Definitions (``measure`` settings of the study file in parentheses):

* **shock** (insert scenario): mean loss of the variant over its first ``shock_iters`` logged
  iterations divided by the reference run's (same seed, same batches: the data order depends on
  the seed only) over the same iterations, minus 1. +0.50 means the loss started 50 % higher.
* **recovery**: the first iteration at which the variant's running mean loss (the last
  ``recovery_window`` logged iterations, fewer at the start) is within ``recovery_tol`` of the
  reference's over the same iterations (ratio <= 1 + tol); None if it never is.
* **spikes**: logged iterations whose loss exceeds ``spike_factor`` times the median of the
  previous ``spike_window`` logged losses (from the fourth logged iteration on).
* **grad-norm peak / spikes**: maximum of the logged total gradient norm (mmengine logs it when
  gradient clipping is configured) and its spikes by the same rule.
* **alarms**: stability alarms raised (``cbam_summary/alarms`` of CBAMStabilityHook).
* **time per iteration**: median of the logged ``time``.
"""
import json
import os.path as osp
import re
from collections import defaultdict
from glob import glob
from statistics import median
from typing import Dict, List, Optional, Tuple

from ..engine.statistics import saturation

STAT_RE = re.compile(r'^cbam/(?P<layer>.+)/(?P<stat>[^/]+)$')
CURVE_STATS = ('alpha', 'ca_T', 'sa_T', 'router_entropy', 'fusion_avg', 'saturation')


def stage_of(layer: str) -> str:
    """``backbone.layer3.2.cbam`` -> ``layer3``; neck modules -> ``neck``."""
    m = re.search(r'(layer\d+|stage\d+|s\d+)\.', layer)
    if m:
        return m.group(1)
    return 'neck' if layer.startswith('neck') else layer.split('.')[0]


def read_scalars(work_dir: str) -> Dict[int, dict]:
    """Training log lines of a run by iteration (all timestamps, later ones win)."""
    train: Dict[int, dict] = {}
    for path in sorted(glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))):
        with open(path) as f:
            for line in f:
                if line.strip():
                    entry = json.loads(line)
                    if 'loss' in entry and 'iter' in entry:
                        train[int(entry['iter'])] = entry
    return train


def read_metrics(work_dir: str) -> Dict[str, float]:
    files = sorted(glob(osp.join(work_dir, 'test', '*', 'metrics.json')))
    if not files:
        return {}
    with open(files[-1]) as f:
        return {k: v for k, v in json.load(f).items() if isinstance(v, (int, float))}


def checkpoint_numel(path: str) -> Optional[int]:
    """Number of floating-point weights in a checkpoint's state_dict (memory-mapped)."""
    if not osp.isfile(path):
        return None
    from ..checkpoint import safe_load
    sd = safe_load(path, map_location='cpu', mmap=True).get('state_dict', {})
    return int(sum(v.numel() for v in sd.values() if v.is_floating_point()))


def spikes(series: List[Tuple[int, float]], factor: float, window: int) -> List[int]:
    """Iterations of ``series`` above ``factor`` x the median of the previous ``window``."""
    out = []
    for i in range(3, len(series)):
        ref = median(v for _, v in series[max(0, i - window):i])
        if ref > 0 and series[i][1] > factor * ref:
            out.append(series[i][0])
    return out


def shock(loss: Dict[int, float], ref: Dict[int, float], iters: int) -> Optional[float]:
    common = [i for i in sorted(loss) if i <= iters and i in ref]
    if not common:
        return None
    return (sum(loss[i] for i in common) / sum(ref[i] for i in common)) - 1


def recovery(loss: Dict[int, float], ref: Dict[int, float], tol: float,
             window: int) -> Optional[int]:
    common = [i for i in sorted(loss) if i in ref]
    for n, it in enumerate(common):
        span = common[max(0, n - window + 1):n + 1]
        if sum(loss[i] for i in span) <= (1 + tol) * sum(ref[i] for i in span):
            return it
    return None


def curves(train: Dict[int, dict]) -> Dict[str, Dict[str, List[Tuple[int, float]]]]:
    """``stat -> stage -> [(iter, mean over the stage's layers)]`` for :data:`CURVE_STATS`;
    ``saturation`` is the larger of the channel and spatial mask saturation (below 0.05 or
    above 0.95)."""
    out: Dict[str, Dict[str, List[Tuple[int, float]]]] = defaultdict(lambda: defaultdict(list))
    for it in sorted(train):
        acc: Dict[Tuple[str, str], List[float]] = defaultdict(list)
        per_layer: Dict[str, Dict[str, float]] = defaultdict(dict)
        for key, value in train[it].items():
            m = STAT_RE.match(key)
            if m:
                per_layer[m['layer']][m['stat']] = float(value)
        for layer, stats in per_layer.items():
            stage = stage_of(layer)
            for stat in CURVE_STATS[:-1]:
                if stat in stats:
                    acc[(stat, stage)].append(stats[stat])
            if 'ca_sat_lo' in stats or 'sa_sat_lo' in stats:
                acc[('saturation', stage)].append(saturation(stats))
        for (stat, stage), values in acc.items():
            out[stat][stage].append((it, sum(values) / len(values)))
    return out


def measure_run(work_dir: str, final_ckpt: str, metric: str, settings: dict,
                reference: Optional[Dict[int, float]] = None) -> dict:
    """Every number the report shows for one run (None where the logs lack it)."""
    train = read_scalars(work_dir)
    loss = {it: float(e['loss']) for it, e in train.items()}
    series = sorted(loss.items())
    grad = sorted((it, float(e['grad_norm'])) for it, e in train.items() if 'grad_norm' in e)
    times = [float(e['time']) for e in train.values() if 'time' in e]
    alarms = [float(e['cbam_summary/alarms']) for e in train.values()
              if 'cbam_summary/alarms' in e]
    metrics = read_metrics(work_dir)
    out = dict(
        iters=max(loss) if loss else 0, loss=loss,
        final_loss=(sum(v for _, v in series[-settings['recovery_window']:])
                    / len(series[-settings['recovery_window']:])) if series else None,
        spikes=len(spikes(series, settings['spike_factor'], settings['spike_window'])),
        grad_norm_max=max((v for _, v in grad), default=None),
        grad_norm_spikes=len(spikes(grad, settings['spike_factor'], settings['spike_window']))
        if grad else None,
        alarms=int(max(alarms)) if alarms else 0,
        time_per_iter=median(times) if times else None,
        metric=metrics.get(metric), metrics=metrics, weights=checkpoint_numel(final_ckpt),
        curves=curves(train), shock=None, recovery=None)
    if reference is not None:
        out['shock'] = shock(loss, reference, settings['shock_iters'])
        out['recovery'] = recovery(loss, reference, settings['recovery_tol'],
                                   settings['recovery_window'])
    return out
