"""Run a stability study: CBAM variants x seeds, trained and tested with the project's tools,
then a report of what the seeds support.

Usage::

    python tools/study.py STUDY [--work-root DIR] [--seeds N] [--only VARIANT ...]
        [--lr-mult X] [--cfg-options KEY=VALUE ...] [--launcher none|pytorch|slurm]
        [--gpus N] [--partition P] [--jobs N] [--dry-run] [--report-only]

* ``STUDY``: a study file (``configs/studies/*.py``; format in ``mm_cbam/study/spec.py``).
* Every (variant, seed) run trains with ``tools/train.py`` and is tested with ``tools/test.py``
  into ``<work root>/<study>/<variant>/seed<k>/`` (``--launcher pytorch``: ``dist_train.sh`` /
  ``dist_test.sh`` with ``--gpus`` processes; ``slurm``: ``slurm_train.sh`` / ``slurm_test.sh``
  on ``--partition``). In the insert scenario a plain baseline is trained first
  (``<study>/pretrain``) unless the study names a checkpoint.
* Finished runs are skipped, interrupted ones resumed (``--resume``): run the same command again
  after a crash or a kill. The console shows which run is going, how many are done and left and
  the estimated time left.
* ``--jobs N`` runs N variant runs at a time (after the pretraining): e.g. one per GPU of a
  node with ``--gpus 1``. Their time per iteration is then not comparable.
* ``--cfg-options`` is applied to every run (e.g. to shorten all runs); ``--lr-mult`` is the
  stress knob (the study then lives in ``<study>-lr<X>``).
* ``--dry-run`` prints every command (with the work dirs the report reads) and runs nothing;
  ``--report-only`` rewrites ``<work root>/<study>/report.md`` and its PNGs from the logs.
"""
import argparse
import os.path as osp
import sys

import mm_cbam  # noqa: F401
from mm_cbam.runner.cli import run_cli
from mm_cbam.study import (RunFailed, StudyError, execute, load_study, plan_runs, shell_line,
                           write_report)
from mm_cbam.study.plan import commands


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('study', help='study file (configs/studies/*.py)')
    parser.add_argument('--work-root', default='work_dirs/studies',
                        help='parent of the study directory (default: work_dirs/studies)')
    parser.add_argument('--seeds', type=int, help='use seeds 0..N-1 instead of the study\'s')
    parser.add_argument('--only', nargs='+', metavar='VARIANT',
                        help='run only these variants (and the reference)')
    parser.add_argument('--lr-mult', type=float, help='learning-rate multiplier (stress knob)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='key=value options applied to every run')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'], default='none')
    parser.add_argument('--gpus', type=int, default=1, help='processes per run (launchers)')
    parser.add_argument('--partition', default='PARTITION', help='slurm partition')
    parser.add_argument('--jobs', type=int, default=1, help='runs at a time (default 1)')
    parser.add_argument('--dry-run', action='store_true', help='print the commands only')
    parser.add_argument('--report-only', action='store_true',
                        help='only rewrite the report from the runs\' logs')
    return parser.parse_args(argv)


def _selection(args) -> str:
    """The options that choose the study directory and its runs, for the printed follow-ups."""
    out = f' --work-root {args.work_root}' if args.work_root != 'work_dirs/studies' else ''
    out += f' --seeds {args.seeds}' if args.seeds else ''
    out += f' --lr-mult {args.lr_mult:g}' if args.lr_mult else ''
    return out + (' --only ' + ' '.join(args.only) if args.only else '')


def main(argv=None) -> int:
    args = parse_args(argv)
    for name in ('gpus', 'jobs'):
        if getattr(args, name) < 1:
            raise StudyError(f'--{name} must be >= 1, got {getattr(args, name)}')
    study = load_study(args.study, seeds=args.seeds, only=args.only, lr_mult=args.lr_mult,
                       work_root=args.work_root, cfg_options=args.cfg_options)
    runs = plan_runs(study, write_configs=not args.report_only)
    print(f'study {study.name}: {study.scenario} scenario, {len(study.variants)} variants x '
          f'{len(study.seeds)} seeds = {len(runs)} runs in {study.work_dir}')
    if args.report_only:
        print(f'report written: {write_report(study, runs)}')
        return 0
    if args.dry_run:
        print(f'# run from {osp.dirname(osp.dirname(osp.abspath(__file__)))}; '
              'each block: one run (train, then test)')
        for run in runs:
            cmds = commands(run, args.launcher, args.gpus, args.partition, python='python')
            print(f'# {run.key}: {run.status}; work dir {run.work_dir}'
                  + ('' if cmds else ' (finished)'))
            for command in cmds:
                print(shell_line(command))
        print(f'# then: python -m mm_cbam.study {args.study} --report-only' + _selection(args))
        return 0
    execute(runs, study.work_dir, args.launcher, args.gpus, args.partition, args.jobs)
    print(f'report written: {write_report(study, runs)}')
    return 0


def run(argv=None) -> int:
    """``main`` with study errors (and the usual ones) as one line."""
    return run_cli(main, argv, extra=(StudyError, RunFailed))


if __name__ == '__main__':
    sys.exit(run())
