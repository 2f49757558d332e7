"""What a study measures in one finished run, from the run's own files, kept in
``<run>/measure.json`` (so that ``--report-only`` only reads).

Per run (comparisons with the reference are the report's job, :mod:`.report`):

* ``loss`` and ``components``: the logged loss and its terms per iteration (study runs log every
  iteration with a window of 1);
* ``val``: the logged validation metrics by step (step 0 = before any training step,
  ``ExtraValidationHook``), and ``precise``: the same recomputed exactly from the dumps
  (:mod:`.precise`), with the bootstrap values of the study metric at the first and last step;
* ``spikes``: logged iterations whose loss exceeds ``spike_factor`` x the median of the previous
  ``spike_window`` (and ``logged``, to make it a rate);
* ``grad_norm_max``: the total gradient norm mmengine logs when the schedule clips gradients,
  else None; ``gnorm_max``: the largest per-module attention gradient norm the stability hook
  logged (logged whatever the schedule);
* ``stages``: the last logged ``alpha``, ``ca_T``, ``sa_T`` and ``contribution``
  (||out - x|| / ||x||) per stage, averaged over its modules; ``curves`` the same over time;
* ``collapses``: modules whose mask saturated for 3 logs in a row, with the first iteration and
  the side (stuck near 0 or near 1);
* ``time_per_iter``: median logged time; ``stopped``: why a guard stopped the run, if one did.
"""
import os
import os.path as osp
from statistics import median
from typing import Optional

from ..runner import run_files
from . import logs
from .precise import CocoScorer, score_step


def _measure_stages(train) -> dict:
    curves = logs.stage_curves(train)
    stages = sorted({stage for values in curves.values() for stage in values})
    return {stage: {stat: logs.last_value(curves.get(stat, {}).get(stage, []))
                    for stat in ('alpha', 'ca_T', 'sa_T', 'contribution')}
            for stage in stages}, curves


def measure_run(work_dir: str, metric: str, settings: dict, scorer: Optional[CocoScorer] = None,
                rounds=None) -> dict:
    """Every number of one run (None where its files lack it)."""
    train, val = logs.read_scalars(work_dir)
    loss = logs.series(train, 'loss')
    components = {c: dict(logs.series(train, c)) for c in settings['components']}
    steps = run_files.eval_steps(work_dir)
    precise = {}
    for step in steps:
        scores = score_step(work_dir, step, scorer,
                            rounds if step in (steps[0], steps[-1]) else None)
        if scores is not None:
            precise[step] = scores
    grad = logs.series(train, 'grad_norm')
    gnorm = logs.series(train, 'cbam_summary/gnorm_max')
    times = [v for _, v in logs.series(train, 'time')]
    stages, curves = _measure_stages(train)
    stopped = None
    if osp.isfile(run_files.stopped_path(work_dir)):
        with open(run_files.stopped_path(work_dir)) as f:
            stopped = f.read().strip()
    return dict(
        iters=max((it for it, _ in loss), default=0), loss=dict(loss), components=components,
        val={step: {k: v for k, v in entry.items() if isinstance(v, (int, float))}
             for step, entry in val.items()},
        precise=precise, metric=metric,
        spikes=len(logs.spikes(loss, settings['spike_factor'], settings['spike_window'])),
        logged=len(loss),
        grad_norm_max=max((v for _, v in grad), default=None),
        gnorm_max=max((v for _, v in gnorm), default=None),
        stages=stages, curves=curves, collapses=logs.collapses(train),
        time_per_iter=median(times) if times else None, stopped=stopped)


def save(work_dir: str, measures: dict) -> None:
    import json
    path = run_files.measure_path(work_dir)
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(measures, f)
    os.replace(tmp, path)


def load(work_dir: str) -> Optional[dict]:
    """A run's saved measures (JSON keys of steps and iterations back to ints), or None."""
    path = run_files.measure_path(work_dir)
    if not osp.isfile(path):
        return None
    data = run_files.read_json(path)
    for key in ('loss', 'val', 'precise'):
        data[key] = {int(k): v for k, v in (data.get(key) or {}).items()}
    data['components'] = {c: {int(k): v for k, v in values.items()}
                          for c, values in (data.get('components') or {}).items()}
    return data


class Measurer:
    """Measures a study's runs with the same validation-image resamples for every run (so the
    bootstrap differences are paired) and, for detection, one loaded annotation file."""

    def __init__(self, study):
        from ..runner.config import load_config
        from .precise import resample_indices
        self.study = study
        cfg = load_config(study.base_config)
        ann = (cfg.get('val_evaluator') or {}).get('ann_file')
        self.scorer = CocoScorer(ann) if ann and osp.isfile(ann) else None
        self._rounds = None
        self._resample = lambda n: resample_indices(n, study.measure['bootstrap'])
        self.settings = study.measure

    def rounds(self, run) -> Optional[object]:
        """The study's resamples (drawn once, for the number of validation images)."""
        if self._rounds is None:
            from .precise import num_images
            n = len(self.scorer.img_ids) if self.scorer is not None else None
            if n is None:
                steps = run_files.eval_steps(run.work_dir)
                n = num_images(run.work_dir, steps[0]) if steps else None
            if n:
                self._rounds = self._resample(n)
        return self._rounds

    def measure(self, run) -> dict:
        return measure_run(run.work_dir, self.study.metric, self.settings, self.scorer,
                           self.rounds(run))
