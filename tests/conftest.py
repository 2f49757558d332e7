"""Shared fixtures and helpers. Tests run from the repository root (``make test``); helper
modules beside this file (``crafted_checkpoints``, ``official_cbam_net``, ...) are importable
because pytest puts this folder on the path when it loads this file."""
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

warnings.filterwarnings('ignore', message='pkg_resources is deprecated')
ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / 'configs'
os.environ.setdefault('MPLBACKEND', 'Agg')

DET_CONFIG = CONFIGS / 'mini' / 'faster-rcnn_r18-cbam_fpn_12e_mini-coco.py'
SEG_CONFIG = CONFIGS / 'mini' / 'deeplabv3plus_r18-d8-cbam_500i_mini-cityscapes.py'
DET_PLAIN = CONFIGS / 'mini' / 'faster-rcnn_r18_fpn_12e_mini-coco.py'
SEG_PLAIN = CONFIGS / 'mini' / 'deeplabv3plus_r18-d8_500i_mini-cityscapes.py'
# a few iterations on a slice of the mini data
SMALL_DET = ['train_dataloader.dataset.indices=24', 'train_dataloader.batch_size=4',
             'val_dataloader.dataset.indices=8', 'default_hooks.logger.interval=2',
             'model.test_cfg.rcnn.score_thr=0.0']  # an untrained model still detects something
# The reference runs several test files share (resume, tools, plots): the mini detector on 24
# images, batch 4 (6 iterations per epoch), 3 epochs, validation after every epoch ...
DET_OPTS = ['train_cfg.max_epochs=3', 'train_cfg.val_interval=1', 'randomness.deterministic=True',
            'default_hooks.logger.interval=1', 'train_dataloader.dataset.indices=24',
            'train_dataloader.batch_size=4', 'val_dataloader.dataset.indices=8',
            'default_hooks.checkpoint.max_keep_ckpts=3']
# ... and the mini segmentor, 12 iterations, validation and a checkpoint every 4
SEG_OPTS = ['train_cfg.max_iters=12', 'train_cfg.val_interval=4', 'randomness.deterministic=True',
            'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=4',
            'default_hooks.checkpoint.max_keep_ckpts=3', 'train_dataloader.batch_size=4',
            'val_dataloader.dataset.indices=4', 'param_scheduler.0.end=4',
            'param_scheduler.1.begin=4', 'param_scheduler.1.end=12']


def run_tool(*args, timeout=900, env=None, check=True):
    """Run an entry point with the test interpreter from the repository root: a module name
    (``'mm_cbam.train'`` runs ``python -m mm_cbam.train``) or a script path (``tools/...``)."""
    first = str(args[0])
    command = ['-m', first] if first.startswith('mm_cbam.') else [first]
    proc = subprocess.run([sys.executable, *command, *map(str, args[1:])], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f'{args} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n'
                             f'{proc.stderr[-5000:]}')
    return proc


def last_line(proc) -> str:
    """The last non-empty line a process wrote to stderr (where the tools put one-line errors)."""
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    return lines[-1] if lines else ''


def det_models():
    """mmdet's MODELS registry, with mmdet as the default scope."""
    from mm_cbam.runner.config import register_scope
    register_scope('det')
    from mmdet.registry import MODELS
    return MODELS


def seg_models():
    """mmseg's MODELS registry, with mmseg as the default scope."""
    from mm_cbam.runner.config import register_scope
    register_scope('seg')
    from mmseg.registry import MODELS
    return MODELS


@pytest.fixture(scope='session')
def mini_data():
    from mm_cbam.mini_data import ensure_mini_data
    ensure_mini_data(ROOT / 'data')
    return ROOT / 'data'


@pytest.fixture(scope='session')
def det_run(mini_data, tmp_path_factory):
    """An uninterrupted mini detector run with DET_OPTS: its work dir."""
    work = tmp_path_factory.mktemp('det_run') / 'work'
    run_tool('mm_cbam.train', DET_CONFIG, '--work-dir', work, '--cfg-options', *DET_OPTS)
    return work


@pytest.fixture(scope='session')
def seg_run(mini_data, tmp_path_factory):
    """An uninterrupted mini segmentor run with SEG_OPTS: its work dir."""
    work = tmp_path_factory.mktemp('seg_run') / 'work'
    run_tool('mm_cbam.train', SEG_CONFIG, '--work-dir', work, '--cfg-options', *SEG_OPTS)
    return work


def toy_runner(work_dir, attention_cfgs, hooks=(), max_iters=6, logger_interval=1, lr=0.05,
               experiment_name=None, checkpoint_interval=1000, optim_wrapper=None,
               **runner_kwargs):
    """An mmengine Runner around a small conv net with one attention module per config in
    ``attention_cfgs`` (module paths ``net.1``, ``net.3``, ...): fast hook tests without mmdet."""
    import torch
    import torch.nn as nn
    from mmengine.model import BaseModel
    from mmengine.registry import MODELS
    from mmengine.runner import Runner
    from torch.utils.data import Dataset

    class ToyModel(BaseModel):

        def __init__(self):
            super().__init__()
            layers = [nn.Conv2d(3, 8, 3, padding=1)]
            for cfg in attention_cfgs:
                layers += [MODELS.build(dict(cfg, in_channels=8)), nn.Conv2d(8, 8, 3, padding=1)]
            self.net = nn.Sequential(*layers)

        def forward(self, x, y=None, mode='tensor'):
            out = self.net(x).mean(dim=(1, 2, 3))
            if mode == 'loss':
                return dict(loss=((out - y)**2).mean())
            return out

    class ToyData(Dataset):

        def __len__(self):
            return 64

        def __getitem__(self, i):
            g = torch.Generator().manual_seed(i)
            x = torch.randn(3, 12, 12, generator=g) * 2
            return dict(x=x, y=x.mean() * 3)

    return Runner(
        model=ToyModel(), work_dir=str(work_dir), experiment_name=experiment_name,
        train_dataloader=dict(dataset=ToyData(), batch_size=4,
                              sampler=dict(type='DefaultSampler', shuffle=True),
                              collate_fn=dict(type='default_collate')),
        optim_wrapper=optim_wrapper or dict(optimizer=dict(type='SGD', lr=lr, momentum=0.9)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(logger=dict(type='LoggerHook', interval=logger_interval),
                           checkpoint=dict(type='CheckpointHook', interval=checkpoint_interval,
                                           by_epoch=False)),
        custom_hooks=list(hooks),
        log_processor=runner_kwargs.pop('log_processor', dict(by_epoch=False, window_size=1)),
        randomness=dict(seed=0), default_scope='mmengine', **runner_kwargs)


# Four variants in one mini detector, one per ResNet stage (BasicBlock, after conv2).
VARIANTS = {
    'classic': dict(type='CBAM', postfix='_classic'),
    'residual': dict(type='CBAM', postfix='_residual', residual=True, alpha_init=0.5,
                     learnable_alpha=True, ca_fusion='softmax'),
    'temperature': dict(type='CBAM', postfix='_temperature', learnable_temperature=True,
                        ca_temperature=1.5, sa_temperature=0.8),
    'dynamic': dict(type='CBAM', postfix='_dynamic', sa_kernels=(3, 7, 7),
                    sa_dilations=(1, 1, 2)),
}


STAGES = {'dynamic': 0, 'classic': 1, 'residual': 2, 'temperature': 3}


def scalars(work: Path):
    """Every line of a work dir's ``*/vis_data/scalars.json``, oldest run first."""
    entries = []
    for path in sorted(work.glob('*/vis_data/scalars.json')):
        entries += [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    return entries


@pytest.fixture(scope='session')
def variants_run(mini_data, tmp_path_factory):
    """A mini detector with all four variants trained for 36 iterations (val at the end)."""
    tmp = tmp_path_factory.mktemp('variants')
    plugins = [
        dict(cfg=cfg, stages=tuple(i == STAGES[name] for i in range(4)), position='after_conv2')
        for name, cfg in VARIANTS.items()
    ]
    config = tmp / 'variants.py'
    config.write_text(f"_base_ = '{DET_CONFIG}'\nmodel = dict(backbone=dict(plugins={plugins!r}))\n"
                      "default_hooks = dict(logger=dict(interval=3))\n")
    work = tmp / 'work'
    run_tool('mm_cbam.train', config, '--work-dir', work, '--cfg-options',
             'train_cfg.max_epochs=6', 'train_cfg.val_interval=6', *SMALL_DET[:3],
             SMALL_DET[4])
    return config, work


def layer_name(name: str, block: int = 0) -> str:
    """The module path of ``variants_run``'s attention ``name`` in ``block`` of its stage."""
    return f'backbone.layer{STAGES[name] + 1}.{block}.cbam_{name}'
