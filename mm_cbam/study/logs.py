"""Reading a run's logs: the one parser of ``scalars.json`` and of CBAMStabilityHook's
statistics, shared by the study and ``mm_cbam.analysis.plot_stability``.

* :func:`read_scalars` -- training lines by iteration and validation lines by step, joined over
  a resumed run's timestamps (a later line for the same iteration wins); a broken file is named.
* :func:`module_series` -- ``cbam/<layer>/<stat>`` values as ``layer -> stat -> [(iter, v)]``.
* :func:`stage_curves` -- the same, averaged over the layers of each stage
  (:func:`mm_cbam.patterns.stage_of`).
* :func:`spikes`, :func:`collapses` -- loss spikes and mask-collapse alarms, by the stability
  hook's own rule (:func:`mm_cbam.engine.statistics.saturation`).
"""
import json
import re
from collections import defaultdict
from statistics import median
from typing import Dict, List, Optional, Tuple

from ..engine.statistics import SATURATION_HIGH, SATURATION_LOW, saturation
from ..patterns import stage_of
from ..runner import run_files

STAT_RE = re.compile(r'^cbam/(?P<layer>.+)/(?P<stat>[^/]+)$')
Series = List[Tuple[int, float]]


class LogError(ValueError):
    """A run's log file cannot be read (the message names the file and the line)."""


def read_scalars(work_dir: str) -> Tuple[Dict[int, dict], Dict[int, dict]]:
    """``(train, val)``: training lines by iteration, validation lines by step."""
    train: Dict[int, dict] = {}
    val: Dict[int, dict] = {}
    for path in run_files.scalars_files(work_dir):
        with open(path) as f:
            for number, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise LogError(f'{path}, line {number}: not JSON ({exc.msg}); the run\'s '
                                   'log is damaged: delete the run folder to run it again') \
                        from None
                if 'loss' in entry and 'iter' in entry:
                    train[int(entry['iter'])] = entry
                elif 'step' in entry and not any(k.startswith(('loss', 'cbam')) for k in entry):
                    val[int(entry['step'])] = entry
    return train, val


def series(train: Dict[int, dict], key: str) -> Series:
    """``[(iter, value)]`` of one logged key."""
    return sorted((it, float(e[key])) for it, e in train.items() if key in e)


def module_series(train: Dict[int, dict]) -> Dict[str, Dict[str, Series]]:
    """``layer -> stat -> [(iter, value)]`` of CBAMStabilityHook's per-module statistics."""
    out: Dict[str, Dict[str, Series]] = defaultdict(lambda: defaultdict(list))
    for it in sorted(train):
        for key, value in train[it].items():
            m = STAT_RE.match(key)
            if m:
                out[m['layer']][m['stat']].append((it, float(value)))
    return out


def _saturation_series(stats: Dict[str, Series]) -> Series:
    """Mask saturation per log of one module (the larger of channel and spatial)."""
    keys = [k for k in ('ca_sat_lo', 'ca_sat_hi', 'sa_sat_lo', 'sa_sat_hi') if k in stats]
    by_iter: Dict[int, dict] = defaultdict(dict)
    for key in keys:
        for it, v in stats[key]:
            by_iter[it][key] = v
    return [(it, saturation(values)) for it, values in sorted(by_iter.items())]


CURVE_STATS = ('alpha', 'ca_T', 'sa_T', 'contribution', 'router_entropy', 'fusion_avg')


def stage_curves(train: Dict[int, dict], stats=CURVE_STATS) -> Dict[str, Dict[str, Series]]:
    """``stat -> stage -> [(iter, mean over the stage's layers)]``; ``saturation`` too."""
    per_module = module_series(train)
    acc: Dict[str, Dict[str, Dict[int, List[float]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list)))
    for layer, layer_stats in per_module.items():
        stage = stage_of(layer)
        for stat in stats:
            for it, v in layer_stats.get(stat, []):
                acc[stat][stage][it].append(v)
        for it, v in _saturation_series(layer_stats):
            acc['saturation'][stage][it].append(v)
    return {stat: {stage: [(it, sum(v) / len(v)) for it, v in sorted(its.items())]
                   for stage, its in stages.items()} for stat, stages in acc.items()}


def spikes(values: Series, factor: float, window: int) -> List[int]:
    """Iterations whose value exceeds ``factor`` x the median of the previous ``window``
    (from the fourth value on)."""
    out = []
    for i in range(3, len(values)):
        ref = median(v for _, v in values[max(0, i - window):i])
        if ref > 0 and values[i][1] > factor * ref:
            out.append(values[i][0])
    return out


def collapses(train: Dict[int, dict], threshold: float = 0.95,
              patience: int = 3) -> Dict[str, dict]:
    """``layer -> dict(first=iteration, side='low'|'high')`` for every module whose mask
    saturation stayed above ``threshold`` for ``patience`` consecutive logs (the stability
    hook's alarm); ``side`` says whether the mask was stuck near 0 (below {SATURATION_LOW}) or
    near 1 (above {SATURATION_HIGH})."""
    out = {}
    for layer, stats in module_series(train).items():
        run = 0
        for it, value in _saturation_series(stats):
            run = run + 1 if value > threshold else 0
            if run >= patience:
                lo = sum(v for i, v in stats.get('ca_sat_lo', []) + stats.get('sa_sat_lo', [])
                         if i == it)
                hi = sum(v for i, v in stats.get('ca_sat_hi', []) + stats.get('sa_sat_hi', [])
                         if i == it)
                out[layer] = dict(first=it, side='low' if lo >= hi else 'high')
                break
    return out


collapses.__doc__ = collapses.__doc__.format(SATURATION_LOW=SATURATION_LOW,
                                             SATURATION_HIGH=SATURATION_HIGH)


def last_value(values: Series) -> Optional[float]:
    return values[-1][1] if values else None
