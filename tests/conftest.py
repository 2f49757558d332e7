import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

warnings.filterwarnings('ignore', message='pkg_resources is deprecated')
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'tools'))
sys.path.insert(0, str(ROOT / 'tools' / 'analysis'))
os.environ.setdefault('MPLBACKEND', 'Agg')

DET_CONFIG = ROOT / 'configs' / 'mini_faster_rcnn_r18_cbam.py'
SEG_CONFIG = ROOT / 'configs' / 'mini_deeplabv3plus_r18_cbam.py'
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
    """Run a tools/ script with the test interpreter from the repository root."""
    proc = subprocess.run([sys.executable, *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f'{args} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n'
                             f'{proc.stderr[-5000:]}')
    return proc


@pytest.fixture(scope='session')
def mini_data():
    from generate_mini_data import ensure_mini_data
    ensure_mini_data()
    return ROOT / 'data'


@pytest.fixture(scope='session')
def det_run(mini_data, tmp_path_factory):
    """An uninterrupted mini detector run with DET_OPTS: its work dir."""
    work = tmp_path_factory.mktemp('det_run') / 'work'
    run_tool('tools/train.py', DET_CONFIG, '--work-dir', work, '--cfg-options', *DET_OPTS)
    return work


@pytest.fixture(scope='session')
def seg_run(mini_data, tmp_path_factory):
    """An uninterrupted mini segmentor run with SEG_OPTS: its work dir."""
    work = tmp_path_factory.mktemp('seg_run') / 'work'
    run_tool('tools/train.py', SEG_CONFIG, '--work-dir', work, '--cfg-options', *SEG_OPTS)
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
