"""Cost of CBAMStabilityHook on training iteration time.

Usage::

    python -m mm_cbam.analysis.benchmark_hooks
        [--config configs/mini/faster-rcnn_r18-cbam_fpn_12e_mini-coco.py]
        [--iters 150] [--interval 50] [--repeat 2]

Trains the config for ``--iters`` iterations in one process, alternately without and with the
hook (``--repeat`` times each, runs interleaved to share machine noise), and prints the median
iteration time of each (the first 10 iterations of a run are excluded), the relative overhead,
and the time the hook itself spends per logging iteration (measured inside the hook). Results
for this repository's machine are recorded in ``docs/benchmarks.md``.
"""
import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path

import mm_cbam  # noqa: F401
from mm_cbam.engine import CBAMStabilityHook
from mm_cbam.runner.config import build_runner, prepare_config

ROOT = Path(__file__).resolve().parents[2]


class TimedStabilityHook(CBAMStabilityHook):
    """CBAMStabilityHook that accumulates the wall time of its own methods."""

    spent = 0.0

    def before_train_iter(self, *args, **kwargs):
        t = time.perf_counter()
        super().before_train_iter(*args, **kwargs)
        TimedStabilityHook.spent += time.perf_counter() - t

    def after_train_iter(self, *args, **kwargs):
        t = time.perf_counter()
        super().after_train_iter(*args, **kwargs)
        TimedStabilityHook.spent += time.perf_counter() - t

    def _capture_grad_norms(self, *args, **kwargs):  # inside the wrapped optimizer step
        t = time.perf_counter()
        super()._capture_grad_norms(*args, **kwargs)
        TimedStabilityHook.spent += time.perf_counter() - t


def run_once(config: str, iters: int, interval: int, with_hook: bool, work_dir: str):
    from mmengine.hooks import Hook
    times = []

    class IterClock(Hook):
        priority = 'VERY_HIGH'

        def before_train_iter(self, runner, batch_idx, data_batch=None):
            self._t = time.perf_counter()

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            times.append(time.perf_counter() - self._t)

    cfg = prepare_config(config, work_dir, {
        'default_hooks.logger.interval': interval,
        'default_hooks.checkpoint.interval': 10**9,
        'log_processor.by_epoch': False,
        'experiment_name': uuid.uuid4().hex,
    })
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters, val_interval=10**9)
    cfg.train_dataloader.sampler = dict(type='InfiniteSampler', shuffle=True)
    cfg.param_scheduler = []
    cfg.custom_hooks = []
    runner = build_runner(cfg)
    runner.register_hook(IterClock())
    hook = None
    if with_hook:
        hook = TimedStabilityHook(interval=interval)
        runner.register_hook(hook)
    TimedStabilityHook.spent = 0.0
    runner.train()
    return statistics.median(times[10:]), TimedStabilityHook.spent, len(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--config', default=str(
        ROOT / 'configs' / 'mini' / 'faster-rcnn_r18-cbam_fpn_12e_mini-coco.py'))
    parser.add_argument('--iters', type=int, default=150)
    parser.add_argument('--interval', type=int, default=50)
    parser.add_argument('--repeat', type=int, default=2)
    parser.add_argument('--work-dir', default='/tmp/mm_cbam_benchmark_hooks')
    args = parser.parse_args(argv)
    without, with_, spent = [], [], []
    for _ in range(args.repeat):
        without.append(run_once(args.config, args.iters, args.interval, False, args.work_dir)[0])
        t, s, n = run_once(args.config, args.iters, args.interval, True, args.work_dir)
        with_.append(t)
        spent.append(s / max(1, n // args.interval))
    base, hooked = statistics.median(without), statistics.median(with_)
    print(f'\n# CBAMStabilityHook overhead: {Path(args.config).name}, {args.iters} iterations, '
          f'interval {args.interval}, median of {args.repeat} runs each')
    print(f'iteration time without hook: {base * 1e3:.1f} ms')
    print(f'iteration time with hook:    {hooked * 1e3:.1f} ms  ({(hooked / base - 1) * 100:+.2f}%,'
          ' median iteration: non-logging iterations dominate)')
    per_log = statistics.median(spent)
    print(f'hook time per logging iteration: {per_log * 1e3:.1f} ms -> amortised '
          f'{per_log / args.interval * 1e3:.3f} ms per iteration '
          f'({per_log / args.interval / base * 100:.2f}% of an iteration)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
