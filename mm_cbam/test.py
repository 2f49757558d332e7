"""Test (and evaluate) a detector or segmentor checkpoint with mm_cbam.

Same flags and behaviour as mmdet's / mmseg's ``tools/test.py``::

    python -m mm_cbam.test CONFIG CHECKPOINT [--work-dir DIR] [--out RESULTS.pkl]
        [--show] [--show-dir DIR] [--wait-time S] [--cfg-options KEY=VALUE ...]
        [--launcher none|pytorch|slurm|mpi]

(``tools/test.py`` is this module.) Metrics come from the config's test evaluator (CocoMetric for
detection, IoUMetric for segmentation); they are printed, logged and written to
``<work dir>/<timestamp>/metrics.json``. ``--show-dir`` saves images with the predictions drawn
(under the run's directory, as in mmdet).
"""
import argparse
import json
import os
import os.path as osp
import sys

import mm_cbam  # noqa: F401
from mm_cbam.runner import run_files
from mm_cbam.runner.cli import add_common_args, run_cli
from mm_cbam.runner.config import build_runner, prepare_config
from mm_cbam.runner.file_checks import check_data_paths, explain_data_error
from mm_cbam.runner.launch import setup_cpu_distributed


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (and evaluate) a detector or segmentor')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', help='dump predictions to a pickle file (.pkl)')
    parser.add_argument('--show', action='store_true', help='show predictions in a window')
    parser.add_argument('--show-dir', help='save images with predictions drawn to this '
                        'directory (relative to the run directory in the work dir)')
    parser.add_argument('--wait-time', type=float, default=2, help='the interval of show (s)')
    add_common_args(parser)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def enable_visualization(cfg, show: bool, show_dir, wait_time: float) -> None:
    hooks = cfg.default_hooks
    if 'visualization' not in hooks:
        raise RuntimeError('--show/--show-dir need a visualization hook in default_hooks')
    vis = hooks['visualization']
    vis['draw'] = True
    if show:
        vis['show'] = True
        vis['wait_time'] = wait_time
    if show_dir:
        if cfg.default_scope == 'mmdet':
            vis['test_out_dir'] = show_dir
        else:  # mmseg's hook saves through the visualizer's backends
            vis['interval'] = 1
            cfg.visualizer['save_dir'] = show_dir


def evaluate(argv=None) -> dict:
    """Run the test and return the metrics (written to ``metrics.json`` on rank 0)."""
    args = parse_args(argv)
    cfg = prepare_config(args.config, args.work_dir, args.cfg_options, args.launcher)
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    cfg.load_from = args.checkpoint
    if args.show or args.show_dir:
        enable_visualization(cfg, args.show, args.show_dir, args.wait_time)
    check_data_paths(cfg, ('test_dataloader', ))
    setup_cpu_distributed(cfg, args.launcher)
    runner = build_runner(cfg)
    if args.out:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise ValueError('--out must be a .pkl or .pickle file')
        from mmengine.evaluator import DumpResults
        runner.test_evaluator.metrics.append(DumpResults(out_file_path=args.out))
    try:
        metrics = runner.test()
    except Exception as exc:
        data_error = explain_data_error(cfg, exc)
        if data_error is None:
            raise
        raise data_error from exc
    if runner.rank == 0:
        metrics = {k: (v.item() if hasattr(v, 'item') and getattr(v, 'ndim', 1) == 0 else v)
                   for k, v in metrics.items()}  # numpy scalars -> numbers
        path = run_files.metrics_path(runner.log_dir)
        with open(path, 'w') as f:
            json.dump(metrics, f, indent=2, default=str)
        runner.logger.info(f'metrics written to {path}')
    return metrics


def main(argv=None) -> int:
    evaluate(argv)
    return 0


if __name__ == '__main__':
    sys.exit(run_cli(main))
