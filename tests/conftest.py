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
SMALL_SEG = ['train_dataloader.batch_size=4', 'val_dataloader.dataset.indices=6',
             'default_hooks.logger.interval=2']


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
