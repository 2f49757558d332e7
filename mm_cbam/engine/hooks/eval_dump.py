"""EvalDumpHook: keep what every validation evaluated, so metrics can be recomputed exactly."""
import os

import numpy as np
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from ...runner import run_files


@HOOKS.register_module()
class EvalDumpHook(Hook):
    """Write what each validation evaluated to ``<work dir>/eval/``, named by the iteration.

    mmdet rounds COCO AP to 3 decimals and mmseg mIoU to 2; a study needs the exact values and
    per-image results (for a bootstrap over validation images). For every validation:

    * ``CocoMetric`` (mmdet): the predictions, ``iter_<k>.bbox.json`` (its ``outfile_prefix`` is
      pointed there);
    * ``IoUMetric`` (mmseg): the per-image intersection, union, prediction and label areas per
      class, ``iter_<k>.iou.npz`` (what its ``compute_metrics`` sums).

    :mod:`mm_cbam.study.precise` recomputes the metrics from these files. Only rank 0 writes (the
    metrics gather every rank's results there). Priority ``NORMAL``.
    """

    def before_val_epoch(self, runner) -> None:
        """Point every metric of the validation evaluator at this iteration's dump files."""
        folder = run_files.eval_dir(runner.work_dir)
        prefix = run_files.eval_prefix(runner.work_dir, runner.iter)
        for metric in getattr(runner.val_evaluator, 'metrics', []):
            if hasattr(metric, 'outfile_prefix') and hasattr(metric, 'results2json'):
                os.makedirs(folder, exist_ok=True)
                metric.outfile_prefix = prefix
            elif type(metric).__name__ == 'IoUMetric' and not hasattr(metric, '_mm_cbam_dump'):
                metric._mm_cbam_dump = True
                _wrap_iou(metric, runner)


def _wrap_iou(metric, runner) -> None:
    """Make ``metric.compute_metrics`` save the per-image areas first (an instance
    attribute: the class is untouched)."""
    compute = metric.compute_metrics

    def compute_metrics(results):
        if is_main_process():
            folder = run_files.eval_dir(runner.work_dir)
            os.makedirs(folder, exist_ok=True)
            areas = [np.stack([np.asarray(r[i].cpu() if hasattr(r[i], 'cpu') else r[i])
                               for r in results]) for i in range(4)]  # each (images, classes)
            np.savez(run_files.eval_prefix(runner.work_dir, runner.iter) + '.iou.npz',
                     intersect=areas[0], union=areas[1], pred=areas[2], label=areas[3])
        return compute(results)

    metric.compute_metrics = compute_metrics
