"""Train a detector (mmdet config) or a segmentor (mmseg config) with mm_cbam.

Same flags and behaviour as mmdet's / mmseg's ``tools/train.py``::

    python -m mm_cbam.train CONFIG [--work-dir DIR] [--resume [CHECKPOINT]] [--amp]
        [--auto-scale-lr] [--cfg-options KEY=VALUE ...] [--launcher none|pytorch|slurm|mpi]
    torchrun --nproc-per-node N -m mm_cbam.train CONFIG --launcher pytorch

(``tools/train.py`` is this module.) The scope (mmdet or mmseg) comes from the config; outputs go
to ``work_dirs/<config name>/``. Before anything is built: the model config is checked, missing
dataset paths and pretrained checkpoints are named, dropped annotations are counted. Without
GPUs, ``--launcher pytorch|slurm|mpi`` trains with several CPU processes (gloo). ``--resume``
without a path continues from the last usable checkpoint of the work dir (damaged, truncated
and non-finite ones are skipped with a warning naming them). Every run gets the training guards
(:func:`mm_cbam.runner.config.add_training_guards`). Errors a user can fix are one line and exit
status 2; a guard that stops training, one line and exit status 3.
"""
import argparse
import os
import sys

import mm_cbam  # noqa: F401  (registration and compatibility fixes, before mmengine is used)
from mm_cbam.checkpoint.integrity import CheckpointError, checkpoint_problem, resolve_resume
from mm_cbam.runner.cli import add_common_args, run_cli
from mm_cbam.runner.config import add_training_guards, build_runner, prepare_config
from mm_cbam.runner.file_checks import (check_annotations, check_data_paths, check_init_checkpoints,
                                        explain_data_error)
from mm_cbam.runner.launch import setup_cpu_distributed


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a detector or segmentor')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--amp', action='store_true', help='automatic mixed precision')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the learning rate with the total batch size')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from CHECKPOINT, or without a value from the latest '
                        'checkpoint in the work dir')
    add_common_args(parser)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def _set_resume(cfg, resume) -> None:
    if resume == 'auto':
        cfg.resume = True
        cfg.load_from = resolve_resume(cfg.work_dir)  # None: nothing to resume, start afresh
    elif resume is not None:
        if not os.path.isfile(resume):
            raise FileNotFoundError(f'--resume checkpoint not found: {resume}')
        problem = checkpoint_problem(resume)
        if problem:
            raise CheckpointError(f'--resume checkpoint {resume} cannot be loaded: {problem}')
        cfg.resume = True
        cfg.load_from = resume


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = prepare_config(args.config, args.work_dir, args.cfg_options, args.launcher)
    if args.amp:
        import torch
        if not torch.cuda.is_available():
            raise SystemExit('ERROR: --amp needs a GPU (mmengine\'s AmpOptimWrapper supports '
                             'CUDA/NPU/MLU devices only); train on the CPU without --amp')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    if args.auto_scale_lr:
        scale = cfg.get('auto_scale_lr') or {}
        if 'base_batch_size' not in scale:
            raise RuntimeError('--auto-scale-lr needs auto_scale_lr.base_batch_size in the config')
        cfg.auto_scale_lr.enable = True
    _set_resume(cfg, args.resume)
    add_training_guards(cfg)
    check_data_paths(cfg, ('train_dataloader', 'val_dataloader'))
    check_annotations(cfg)
    check_init_checkpoints(cfg)  # mmengine initialises the weights before any load_from/resume
    setup_cpu_distributed(cfg, args.launcher)
    runner = build_runner(cfg)
    try:
        runner.train()
    except Exception as exc:
        data_error = explain_data_error(cfg, exc)
        if data_error is None:
            raise
        raise data_error from exc
    return 0


if __name__ == '__main__':
    sys.exit(run_cli(main))
