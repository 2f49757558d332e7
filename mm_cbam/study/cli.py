"""Run a stability study: CBAM variants (placement x stabiliser) x seeds, inserted into a trained
model and fine-tuned with exact pairing, then a report of what the statistics support.

Usage::

    python -m mm_cbam.study STUDY [--work-root DIR] [--seeds 0-4] [--only VARIANT ...]
        [--cfg-options KEY=VALUE ...] [--launcher none|pytorch|slurm] [--gpus N]
        [--partition P] [--jobs N] [--dry-run] [--report-only] [--replicate SEEDS]

(``tools/study.py`` is this module.)

* ``STUDY``: a study file (``configs/studies/*.py``; format in :mod:`mm_cbam.study.spec`).
* Every variant is checked by building its model before anything runs (``--dry-run`` too).
* Every run's whole config is written to ``<work root>/<study>/<variant>/seed<k>/config.py``
  and trained with ``python -m mm_cbam.train`` (``--launcher pytorch``: ``torchrun``, ``slurm``:
  ``srun`` with ``--gpus`` GPUs, up to 8 per node); finished runs are skipped, interrupted ones
  resumed: run the same command again after a crash. Two processes on the same work root share
  the work (run locks). The console shows the run, how many are left and the estimated time
  left.
* ``--seeds`` / ``--only`` select runs (the report is then ``report-<selection>.md``: the full
  ``report.md`` is never replaced by a subset); ``--cfg-options`` applies to every run.
* ``--dry-run`` writes the configs and prints the commands; ``--report-only`` rewrites the
  report from the runs' measurements; ``--replicate SEEDS`` compares the verdicts of two
  disjoint seed sets (:mod:`mm_cbam.study.replication`).
"""
import argparse
import json
import os
import os.path as osp
import sys
from pathlib import Path

from ..runner.cli import run_cli
from ..runner.run_files import RunFileError
from .commands import shell_line, train_command
from .execute import Executor, RunFailed
from .logs import LogError
from .plan import plan_runs
from .report import write_report
from .spec import StudyError, load_study


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('study', help='study file (configs/studies/*.py)')
    parser.add_argument('--work-root', default='work_dirs/studies',
                        help='parent of the study directory (default: work_dirs/studies)')
    parser.add_argument('--seeds', help="seeds instead of the study's: '0-4', '5,6,7' or a "
                        'count N (0..N-1)')
    parser.add_argument('--only', nargs='+', metavar='VARIANT',
                        help='run only these variants (and the reference and calibration)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='key=value options applied to every run')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'], default='none')
    parser.add_argument('--gpus', type=int, default=1, help='GPUs (processes) per run')
    parser.add_argument('--partition', default='PARTITION', help='slurm partition')
    parser.add_argument('--jobs', type=int, default=1, help='runs at a time (default 1)')
    parser.add_argument('--dry-run', action='store_true',
                        help='write the configs, print the commands, run nothing')
    parser.add_argument('--report-only', action='store_true',
                        help="only rewrite the report from the runs' measurements")
    parser.add_argument('--replicate', metavar='SEEDS',
                        help="compare the verdicts of the study's seeds (or --seeds) with those "
                        'of these seeds (run them first with --seeds SEEDS); runs nothing')
    return parser.parse_args(argv)


def check_variants(study, runs) -> dict:
    """Build every variant's model (errors name the variant) and count the trainable
    parameters its attention adds; kept in ``<study dir>/plan.json`` for the report."""
    from ..runner.config import build_model, load_config
    counts = {}
    for run in runs:
        if run.variant is None or run.variant in counts:
            continue
        try:
            model = build_model(load_config(run.config))
        except Exception as exc:  # noqa: BLE001 - a broken variant, named before anything runs
            raise StudyError(f'variant {run.variant!r} does not build: {type(exc).__name__}: '
                             f'{str(exc).splitlines()[0] if str(exc) else ""}') from None
        counts[run.variant] = sum(p.numel() for p in model.parameters() if p.requires_grad)
    # a --only / --seeds selection adds to what earlier plans counted, never replaces it
    path = osp.join(study.work_dir, 'plan.json')
    saved = _read_plan(path)
    counts = dict(saved.get('trainable_params', {}), **counts)
    base = counts.get(study.reference)
    params = {name: (f'{n - base:+,d}' if base is not None else f'{n:,d}')
              for name, n in counts.items()}
    with open(path, 'w') as f:
        json.dump(dict(added_params=params, trainable_params=counts), f, indent=1)
    return params


def _read_plan(path: str) -> dict:
    if not osp.isfile(path):
        return {}
    from ..runner.run_files import read_json
    return read_json(path)


def saved_params(study) -> dict:
    return _read_plan(osp.join(study.work_dir, 'plan.json')).get('added_params', {})


def ensure_embedded_data(study) -> None:
    """A study of a mini config trains on the embedded data: generate it (seconds) if missing,
    where the runs will look for it (relative to the working directory)."""
    from mm_cbam.mini_data import ensure_mini_data
    from mm_cbam.runner.config import load_config
    from mm_cbam.runner.file_checks import leaf_datasets
    cfg = load_config(study.base_config)
    roots = {Path(d.get('data_root') or '.') for d in leaf_datasets(cfg.train_dataloader.dataset)}
    for parent in sorted({r.parent for r in roots if r.name in ('mini_coco', 'mini_cityscapes')}):
        for name, what in ensure_mini_data(parent).items():
            if what != 'present':
                print(f'{parent / name}: {what}', flush=True)


def main(argv=None) -> int:
    args = parse_args(argv)
    for name in ('gpus', 'jobs'):
        if getattr(args, name) < 1:
            raise StudyError(f'--{name} must be >= 1, got {getattr(args, name)}')
    import mm_cbam  # noqa: F401
    study = load_study(args.study, seeds=args.seeds, only=args.only, work_root=args.work_root,
                       cfg_options=args.cfg_options)
    os.makedirs(study.work_dir, exist_ok=True)
    if args.replicate:
        from .replication import write_replication
        other = load_study(args.study, seeds=args.replicate, only=args.only,
                           work_root=args.work_root, cfg_options=args.cfg_options)
        if set(other.seeds) & set(study.seeds):
            raise StudyError(f'--replicate {args.replicate} shares seeds with {study.seeds}: a '
                             'replication needs disjoint seed sets')
        print(f'replication written: {write_replication(study, other)}')
        return 0
    runs = plan_runs(study, write=not args.report_only)
    print(f'study {study.name}: {study.scenario} scenario, {len(study.variants)} variants x '
          f'{len(study.seeds)} seeds = {len(runs)} runs in {study.work_dir}')
    if args.report_only:
        print(f'report written: {write_report(study, runs, saved_params(study))}')
        return 0
    params = check_variants(study, runs)
    if args.dry_run:
        print('# every variant builds; one block per run (from any directory)')
        for run in runs:
            print(f'# {run.key}: {run.status}')
            if run.status in ('new', 'resume'):
                print(shell_line(train_command(run, args.launcher, args.gpus, args.partition,
                                               python='python')))
        print(f'# then: python -m mm_cbam.study {args.study} --report-only'
              + (f' --work-root {args.work_root}' if args.work_root != 'work_dirs/studies'
                 else '') + (f' --seeds {args.seeds}' if args.seeds else '')
              + (' --only ' + ' '.join(args.only) if args.only else ''))
        return 0
    ensure_embedded_data(study)
    Executor(study, runs, args.launcher, args.gpus, args.partition, args.jobs).run_all()
    print(f'report written: {write_report(study, runs, params)}')
    return 0


def run(argv=None) -> int:
    """``main`` with study errors (and the usual ones) as one line."""
    return run_cli(main, argv, extra=(StudyError, RunFailed, LogError, RunFileError))


if __name__ == '__main__':
    sys.exit(run())
