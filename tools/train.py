"""Train a detector (mmdet config) or a segmentor (mmseg config) with mm_cbam.

Same flags and behaviour as mmdet's / mmseg's ``tools/train.py``::

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CHECKPOINT]] [--amp]
        [--auto-scale-lr] [--cfg-options KEY=VALUE ...] [--launcher none|pytorch|slurm|mpi]

The scope (mmdet or mmseg) comes from the config. Outputs go to ``work_dirs/<config name>/`` by
default. Before anything is built, missing dataset paths are reported with how to get the data.
Without GPUs, ``--launcher pytorch|slurm|mpi`` trains with several CPU processes (gloo backend);
use ``tools/dist_train.sh CONFIG NPROC``. ``--resume`` without a path continues from the last
checkpoint of the work dir, or -- if that file is truncated or corrupt -- from the newest readable
one, with a warning naming the bad file. An annotation file that cannot be parsed is named with
the parser's error.
"""
import argparse
import os
import sys

import mm_cbam  # noqa: F401  (registration and compatibility fixes, before mmengine is used)
from mm_cbam.checkpoint import CheckpointLoadError
from mm_cbam.checkpoint.integrity import CheckpointError, checkpoint_problem, resolve_resume
from mm_cbam.engine.data_checks import (DataFileError, check_annotations, check_data_paths,
                                        explain_data_error)
from mm_cbam.engine.hooks import AttentionInstabilityError, NonFiniteLossError
from mm_cbam.engine.launch import (add_common_args, add_training_guards, build_runner,
                                   check_init_checkpoints, prepare_config, setup_cpu_distributed)
from mm_cbam.models.checks import ConfigCheckError
from mm_cbam.optional import MissingPackageError


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
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = resolve_resume(cfg.work_dir)  # None: nothing to resume, start afresh
    elif args.resume is not None:
        if not os.path.isfile(args.resume):
            raise FileNotFoundError(f'--resume checkpoint not found: {args.resume}')
        problem = checkpoint_problem(args.resume)
        if problem:
            raise CheckpointError(f'--resume checkpoint {args.resume} cannot be loaded: '
                                  f'{problem}')
        cfg.resume = True
        cfg.load_from = args.resume
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
    try:
        sys.exit(main())
    except (FileNotFoundError, DataFileError, CheckpointError, MissingPackageError,
            CheckpointLoadError, ConfigCheckError) as exc:
        # missing or unreadable data / checkpoint: a message, not a traceback
        print(f'ERROR: {exc}', file=sys.stderr)
        sys.exit(2)
    except (AttentionInstabilityError, NonFiniteLossError) as exc:
        print(f'STOPPED: {exc}', file=sys.stderr)  # a guard stopped training on purpose
        sys.exit(3)
