"""Every shipped config builds its model and trains one step on a small random batch (CPU)."""

import pytest
import torch
from mmengine.model import revert_sync_batchnorm

from mm_cbam.attention import attention_modules
from mm_cbam.runner.config import build_model, load_config, task_of
from mm_cbam.testing import synthetic_batch

from conftest import CONFIGS as CONFIG_ROOT

CONFIGS = sorted(p for p in CONFIG_ROOT.glob('*/*.py')
                 if p.parent.name not in ('_base_', 'studies'))
FOLDERS = sorted({p.parent for p in CONFIGS})


def _catalogue():
    from mmengine.config import Config
    return Config.fromfile(str(CONFIG_ROOT / '_base_' / 'cbam_variants.py')).cbam_variants


def test_every_method_has_plain_and_cbam_configs():
    for folder in FOLDERS:
        names = [p.name for p in folder.glob('*.py')]
        assert any('cbam' in n for n in names), folder
        assert any('cbam' not in n for n in names), folder


def test_every_folder_readme_lists_its_configs():
    for folder in FOLDERS:
        readme = (folder / 'README.md').read_text()
        assert '| config |' in readme, folder
        for path in folder.glob('*.py'):
            assert f'`{path.name}`' in readme, f'{path.name} missing from {folder}/README.md'


def test_variant_configs_use_the_one_catalogue():
    """``<method>_<backbone>-cbam-<variant>_...`` configs carry exactly catalogue[variant]."""
    import re
    catalogue = _catalogue()
    checked = 0
    for path in CONFIGS:
        m = re.search(r'-cbam-([a-z0-9-]+)_', path.name)
        if not m:
            continue
        variant = m.group(1).replace('-', '_')
        assert variant in catalogue, (path.name, sorted(catalogue))
        cfg = load_config(str(path))
        plugins = cfg.model.backbone.get('plugins') or []
        assert [p['cfg'] for p in plugins] == [catalogue[variant]], path.name
        checked += 1
    assert checked >= 6


def test_old_config_paths_still_resolve_with_a_warning():
    from mm_cbam.runner.renames import CONFIG_RENAMES, resolve_config_path
    for old, new in CONFIG_RENAMES.items():
        assert (CONFIG_ROOT / new).is_file(), new
        assert not (CONFIG_ROOT / old).exists(), old
    with pytest.warns(UserWarning, match='faster_rcnn_r50_cbam.py was renamed to .*'
                      'faster_rcnn/faster-rcnn_r50-cbam_fpn_1x_coco.py'):
        resolved = resolve_config_path(str(CONFIG_ROOT / 'faster_rcnn_r50_cbam.py'))
    assert resolved == str(CONFIG_ROOT / 'faster_rcnn' / 'faster-rcnn_r50-cbam_fpn_1x_coco.py')
    with pytest.warns(UserWarning, match='was renamed'):
        cfg = load_config(str(CONFIG_ROOT / 'faster_rcnn_r50_cbam.py'))
    assert cfg.model.backbone.plugins[0]['cfg'] == dict(type='CBAM')


@pytest.mark.slow
@pytest.mark.parametrize('path', CONFIGS, ids=[f'{p.parent.name}/{p.stem}' for p in CONFIGS])
def test_config_builds_and_trains_one_step(path):
    cfg = load_config(str(path))
    task = task_of(cfg)
    imports = cfg.custom_imports['imports']
    assert imports[0] == 'mm_cbam' and set(imports) <= {'mm_cbam', 'mmpretrain.models'}
    if path.parent.name != 'mini':
        from mm_cbam.runner.file_checks import leaf_datasets  # through MultiImageMixDataset
        data_root = {d.get('data_root', '') for d in leaf_datasets(cfg.train_dataloader.dataset)}
        assert data_root == {'data/coco/' if task == 'det' else 'data/cityscapes/'}
        backends = [b['type'] for b in cfg.visualizer.vis_backends]
        assert 'TensorboardVisBackend' in backends
    from mmengine.registry import HOOKS, DefaultScope
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        # as Runner.register_hook does: the priority is the runner's, not the hook's argument
        hooks = [HOOKS.build({k: v for k, v in h.items() if k != 'priority'})
                 for h in cfg.custom_hooks]
    assert {type(h).__name__ for h in hooks} >= {'CBAMStabilityHook', 'RNGStateHook'}
    if task == 'seg':
        cfg.model.data_preprocessor.size = (64, 96)
    torch.manual_seed(0)
    model = revert_sync_batchnorm(build_model(cfg))
    model.train()
    num_classes = 3
    # DETR-family decoders pick num_queries (900) encoder points: the image must have as many
    size = (256, 256) if hasattr(model, 'num_queries') else (64, 96)
    batch = synthetic_batch(model, task, batch_size=2, size=size, num_classes=num_classes)
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
