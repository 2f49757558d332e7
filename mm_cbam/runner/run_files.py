"""The names of the files a run writes, in one place: training (mmengine's Runner and the
CheckpointHook), testing (``mm_cbam.test``), the evaluation dumps
(:class:`~mm_cbam.engine.hooks.EvalDumpHook`) and the study that measures runs all use these.

A work dir ``W`` of ``mm_cbam.train`` holds::

    W/config.py                      the run's whole config (study runs)
    W/<timestamp>/vis_data/scalars.json   per-iteration scalars and validation metrics
    W/epoch_N.pth | W/iter_N.pth     checkpoints (``_nonfinite`` if the weights diverged)
    W/last_checkpoint                the checkpoint --resume continues from
    W/eval/iter_K.bbox.json | .iou.npz    what the validation at iteration K evaluated
    W/test/<timestamp>/metrics.json  the metrics of ``mm_cbam.test --work-dir W/test``
    W/measure.json                   a study's measurements of the finished run
    W/stopped.txt                    why a guard stopped the run (NonFiniteStopHook ...)
"""
import json
import os.path as osp
from glob import glob
from typing import List, Optional

CONFIG = 'config.py'
EVAL_DIR = 'eval'
TEST_DIR = 'test'
METRICS = 'metrics.json'
MEASURE = 'measure.json'
STOPPED = 'stopped.txt'
LAST_CHECKPOINT = 'last_checkpoint'


def run_config(work_dir: str) -> str:
    """The config file a study writes for its run in ``work_dir``."""
    return osp.join(work_dir, CONFIG)


def checkpoint_name(by_epoch: bool, step: int) -> str:
    """``epoch_N.pth`` / ``iter_N.pth`` as mmengine's CheckpointHook names them."""
    return f"{'epoch' if by_epoch else 'iter'}_{step}.pth"


def is_iter_based(cfg) -> bool:
    loop = cfg.train_cfg
    return loop.get('type') == 'IterBasedTrainLoop' or loop.get('by_epoch') is False


def final_checkpoint(cfg, work_dir: str) -> str:
    """The checkpoint the CheckpointHook writes at the end of training."""
    loop = cfg.train_cfg
    if is_iter_based(cfg):
        return osp.join(work_dir, checkpoint_name(False, loop['max_iters']))
    return osp.join(work_dir, checkpoint_name(True, loop['max_epochs']))


def scalars_files(work_dir: str) -> List[str]:
    """Every ``scalars.json`` of the run, oldest first (a resumed run has several)."""
    return sorted(glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))


def eval_dir(work_dir: str) -> str:
    return osp.join(work_dir, EVAL_DIR)


def eval_prefix(work_dir: str, step: int) -> str:
    """``<work dir>/eval/iter_<step>``: + ``.bbox.json`` (COCO predictions) or ``.iou.npz``."""
    return osp.join(eval_dir(work_dir), f'iter_{step}')


def eval_steps(work_dir: str) -> List[int]:
    """The iterations whose validation was dumped, in order."""
    steps = set()
    for path in glob(osp.join(eval_dir(work_dir), 'iter_*')):
        name = osp.basename(path)[len('iter_'):]
        steps.add(int(name.split('.')[0]))
    return sorted(steps)


def metrics_path(log_dir: str) -> str:
    """Where ``mm_cbam.test`` writes the metrics of a test run."""
    return osp.join(log_dir, METRICS)


def latest_test_metrics(work_dir: str) -> Optional[str]:
    """The newest ``metrics.json`` of ``<work dir>/test/<timestamp>/``, or None."""
    files = sorted(glob(osp.join(work_dir, TEST_DIR, '*', METRICS)))
    return files[-1] if files else None


def measure_path(work_dir: str) -> str:
    return osp.join(work_dir, MEASURE)


def stopped_path(work_dir: str) -> str:
    """Where a study records that a guard stopped the run (it is a result, not a crash)."""
    return osp.join(work_dir, STOPPED)


class RunFileError(ValueError):
    """A file a run wrote cannot be read (the message names it)."""


def read_json(path: str):
    """A JSON file, or a :class:`RunFileError` naming the file and where it breaks."""
    try:
        with open(path) as f:
            return json.load(f)
    except json.JSONDecodeError as exc:
        raise RunFileError(f'{path} is not valid JSON ({exc}); delete it to have it '
                           'rewritten') from None
