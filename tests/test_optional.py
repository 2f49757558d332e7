"""mm_cbam with mmdet only, with mmsegmentation only, and its attention math with neither (nor
mmcv): each in a subprocess in which the missing packages cannot be imported."""
import json
import subprocess
import sys
import textwrap

import pytest

from conftest import DET_CONFIG, ROOT, SEG_CONFIG

BLOCKER = '''
import importlib.abc, sys
class _Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (hidden by the test)", name=name)
        return None
sys.meta_path.insert(0, _Block())
'''


def run_without(blocked, body: str) -> dict:
    """Run ``body`` with ``blocked`` packages unimportable; it prints one JSON line."""
    code = f'BLOCKED = {set(blocked)!r}\n' + BLOCKER + textwrap.dedent(body)
    proc = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


TRAIN_STEP = '''
import json, sys, torch
import mm_cbam
from mm_cbam.runner.config import build_model, load_config, task_of
from mm_cbam.testing import synthetic_batch
from mmengine.model import revert_sync_batchnorm
cfg = load_config(CONFIG)
task = task_of(cfg)
if task == 'seg':
    cfg.model.data_preprocessor.size = (64, 96)
model = revert_sync_batchnorm(build_model(cfg))
model.train()
data = model.data_preprocessor(synthetic_batch(model, task, size=(64, 96)), True)
losses = model(**data, mode='loss')
total = sum(v if isinstance(v, torch.Tensor) else sum(v) for k, v in losses.items() if 'loss' in k)
total.backward()
from mm_cbam.attention import attention_modules
from mm_cbam.runner.config import prepare_config
error = None
try:
    prepare_config(OTHER)  # what tools/train.py and tools/test.py do first
except ImportError as exc:
    error = str(exc)
from mm_cbam.models import PACKAGES
print(json.dumps(dict(available=mm_cbam.AVAILABLE, packages=PACKAGES, loss=float(total),
                      cbam=len(list(attention_modules(model))),
                      backbone=type(model.backbone).__name__,
                      other_error=error)))
'''


@pytest.mark.slow
def test_mmdet_only_builds_and_trains_a_detector():
    out = run_without({'mmseg'}, f'CONFIG, OTHER = {str(DET_CONFIG)!r}, {str(SEG_CONFIG)!r}\n'
                      + TRAIN_STEP)
    assert out['available'] == {'cv2': True, 'mmcv': True, 'mmdet': True, 'mmseg': False}
    assert out['packages'] == ['mmdet'] and out['backbone'] == 'PluginResNet'
    assert out['cbam'] == 6 and out['loss'] > 0
    # a segmentation config names the package to install
    assert 'needs mmsegmentation 1.2.2' in out['other_error']
    assert 'pip install mmsegmentation==1.2.2' in out['other_error']


@pytest.mark.slow
def test_mmseg_only_builds_and_trains_a_segmentor():
    out = run_without({'mmdet'}, f'CONFIG, OTHER = {str(SEG_CONFIG)!r}, {str(DET_CONFIG)!r}\n'
                      + TRAIN_STEP)
    assert out['available'] == {'cv2': True, 'mmcv': True, 'mmdet': False, 'mmseg': True}
    assert out['packages'] == ['mmseg'] and out['backbone'] == 'PluginResNetV1c'
    assert out['cbam'] == 6 and out['loss'] > 0
    assert 'needs mmdet 3.3.0' in out['other_error'] and 'pip install mmdet==3.3.0' in \
        out['other_error']


def test_attention_needs_only_torch_and_mmengine():
    out = run_without({'cv2', 'mmcv', 'mmdet', 'mmseg'}, '''
        import json, sys, torch
        from mm_cbam.attention import CBAM
        from mmengine.registry import MODELS
        m = MODELS.build(dict(type='CBAM', in_channels=16, sa_kernels=(3, 7)))
        x = torch.randn(2, 16, 8, 8, requires_grad=True)
        m(x).sum().backward()
        import mm_cbam
        print(json.dumps(dict(available=mm_cbam.AVAILABLE, grad=float(x.grad.abs().sum()),
                              models='mm_cbam.models' in sys.modules)))
        ''')
    assert out['available'] == {'cv2': False, 'mmcv': False, 'mmdet': False, 'mmseg': False}
    assert out['grad'] > 0 and out['models'] is False


def test_convnext_config_without_mmpretrain_names_the_extra():
    result = run_without({'mmpretrain'}, f'''
        import json
        from mm_cbam.runner.config import load_config
        try:
            load_config({str(ROOT / 'configs' / 'mini' /
                            'upernet_convnext-t-cbam_500i_mini-cityscapes.py')!r})
            error = None
        except ImportError as exc:
            error = f'{{type(exc).__name__}}: {{exc}}'
        print(json.dumps(dict(error=error)))
    ''')
    assert result['error'].startswith('MissingPackageError: ')
    assert "needs mmpretrain 1.2.0 (the 'pretrain' extra), which is not installed" in result[
        'error']
    assert "pip install -e '.[pretrain]'" in result['error']
    assert 'upernet_convnext-t-cbam_500i_mini-cityscapes.py (custom_imports)' in result['error']
