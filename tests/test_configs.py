"""Every shipped config builds its model and trains one step on a small random batch (CPU)."""
from pathlib import Path

import pytest
import torch
from mmengine.model import revert_sync_batchnorm

from mm_cbam.attention import attention_modules
from mm_cbam.utils import build_model, load_config, synthetic_batch, task_of

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted(p for p in (ROOT / 'configs').glob('*.py'))


def test_required_configs_exist():
    names = {p.name for p in CONFIGS}
    assert 'faster_rcnn_r50_cbam.py' in names and 'faster_rcnn_r50_baseline.py' in names
    for prefix in ('mask_rcnn_r50', 'retinanet_r50', 'deeplabv3plus_r50_40k_cityscapes',
                   'deeplabv3plus_r50_80k_cityscapes', 'pspnet_r50_40k_cityscapes',
                   'pspnet_r50_80k_cityscapes', 'faster_rcnn_r18'):
        assert f'{prefix}_cbam.py' in names and f'{prefix}_baseline.py' in names, prefix


def test_configs_readme_lists_every_config():
    readme = (ROOT / 'configs' / 'README.md').read_text()
    for path in CONFIGS:
        assert f'`{path.name}`' in readme, f'{path.name} missing from configs/README.md'


@pytest.mark.parametrize('path', CONFIGS, ids=[p.stem for p in CONFIGS])
def test_config_builds_and_trains_one_step(path):
    cfg = load_config(str(path))
    task = task_of(cfg)
    assert cfg.custom_imports['imports'] == ['mm_cbam']
    if not path.name.startswith('mini_'):
        data_root = cfg.train_dataloader.dataset.get('data_root', '')
        assert data_root == ('data/coco/' if task == 'det' else 'data/cityscapes/')
        backends = [b['type'] for b in cfg.visualizer.vis_backends]
        assert 'TensorboardVisBackend' in backends
    from mmengine.registry import HOOKS
    hooks = [HOOKS.build(dict(h)) for h in cfg.custom_hooks]
    assert {type(h).__name__ for h in hooks} >= {'CBAMStabilityHook', 'RNGStateHook'}
    if task == 'seg':
        cfg.model.data_preprocessor.size = (64, 96)
    torch.manual_seed(0)
    model = revert_sync_batchnorm(build_model(cfg))
    model.train()
    num_classes = 3
    batch = synthetic_batch(model, task, batch_size=2, size=(64, 96), num_classes=num_classes)
    data = model.data_preprocessor(batch, True)
    losses = model(**data, mode='loss')
    total = sum(v.sum() if isinstance(v, torch.Tensor) else sum(x.sum() for x in v)
                for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    total.backward()

    cbams = list(attention_modules(model))
    if 'cbam' in path.stem:
        assert cbams, f'{path.name} builds no CBAM module'
        frozen = []
        for name, module in cbams:
            grads = [p.grad for p in module.parameters() if p.requires_grad]
            if not grads:  # in a stage the backbone freezes (frozen_stages)
                frozen.append(name)
                continue
            assert all(g is not None and torch.isfinite(g).all() for g in grads), name
        frozen_stages = cfg.model.backbone.get('frozen_stages', -1)
        assert all(f'backbone.layer{frozen_stages}.' in n for n in frozen), frozen
        assert len(frozen) < len(cbams)
    else:
        assert not cbams, f'baseline {path.name} contains CBAM modules'
