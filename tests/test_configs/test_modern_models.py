"""The modern detectors and segmentors (Cascade R-CNN, RTMDet, YOLOX, DINO, Swin Mask R-CNN,
UPerNet R50 / Swin / ConvNeXt, SegFormer): every full-scale CBAM config runs its backbone and
neck through each attention module, starts as its plain counterpart exactly (identity start,
random weights standing in for the released ones), and its mini counterpart trains, evaluates,
logs every module's statistics and draws overlays."""
import json

import pytest
import torch
from mmengine.model import revert_sync_batchnorm

from mm_cbam.analysis.identity_start import check_identity_start
from mm_cbam.attention import attention_modules
from mm_cbam.runner.config import build_model, load_config, task_of

from conftest import CONFIGS, run_tool

# (plain, CBAM, mini CBAM, number of attention modules at full scale)
MODELS = {
    'cascade_rcnn': ('cascade-rcnn_r50_fpn_1x_coco.py', 'cascade-rcnn_r50-cbam_fpn_1x_coco.py',
                     'cascade-rcnn_r50-cbam_fpn_12e_mini-coco.py', 13),
    'rtmdet': ('rtmdet_tiny_8xb32-300e_coco.py', 'rtmdet_tiny-cbam_8xb32-300e_coco.py',
               'rtmdet_tiny-cbam_12e_mini-coco.py', 3),
    'yolox': ('yolox_s_8xb8-300e_coco.py', 'yolox_s-cbam_8xb8-300e_coco.py',
              'yolox_s-cbam_12e_mini-coco.py', 7),
    'dino': ('dino-4scale_r50_8xb2-12e_coco.py', 'dino-4scale_r50-cbam_8xb2-12e_coco.py',
             'dino-4scale_r50-cbam_12e_mini-coco.py', 13),
    'swin': ('mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py', 'mask-rcnn_swin-t-p4-w7-cbam_fpn_1x_coco.py',
             'mask-rcnn_swin-t-p4-w7-cbam_fpn_12e_mini-coco.py', 10),
    'upernet_r50': ('upernet_r50_4xb2-40k_cityscapes-512x1024.py',
                    'upernet_r50-cbam_4xb2-40k_cityscapes-512x1024.py',
                    'upernet_r50-cbam_500i_mini-cityscapes.py', 13),
    'upernet_swin': ('upernet_swin-t_4xb2-40k_cityscapes-512x1024.py',
                     'upernet_swin-t-cbam_4xb2-40k_cityscapes-512x1024.py',
                     'upernet_swin-t-cbam_500i_mini-cityscapes.py', 10),
    'upernet_convnext': ('upernet_convnext-t_4xb2-40k_cityscapes-512x1024.py',
                         'upernet_convnext-t-cbam_4xb2-40k_cityscapes-512x1024.py',
                         'upernet_convnext-t-cbam_500i_mini-cityscapes.py', 15),
    'segformer': ('segformer_mit-b0_8xb1-160k_cityscapes-1024x1024.py',
                  'segformer_mit-b0-cbam_8xb1-160k_cityscapes-1024x1024.py',
                  'segformer_mit-b0-cbam_500i_mini-cityscapes.py', 6),
}
FOLDERS = {'upernet_r50': 'upernet', 'upernet_swin': 'upernet', 'upernet_convnext': 'upernet'}


def _path(key, which):
    plain, cbam, mini, _ = MODELS[key]
    if which == 'mini':
        return CONFIGS / 'mini' / mini
    return CONFIGS / FOLDERS.get(key, key) / (plain if which == 'plain' else cbam)


def _stage_of(name: str) -> str:
    """The attention stage of a module name: its backbone stage (``layer3``, ``stage2``,
    ``stages.1``, ``layers.2``)."""
    parts = name.split('.')
    for i, part in enumerate(parts):
        if part in ('stages', 'layers') and i + 1 < len(parts):
            return f'{part}.{parts[i + 1]}'
        if part.startswith(('layer', 'stage')) and part[-1].isdigit():
            return part
    return name


@pytest.mark.slow
@pytest.mark.parametrize('key', sorted(MODELS))
def test_backbone_and_neck_forward_runs_every_attention_module(key):
    cfg = load_config(str(_path(key, 'cbam')))
    torch.manual_seed(0)
    model = revert_sync_batchnorm(build_model(cfg)).eval()
    modules = dict(attention_modules(model))
    assert len(modules) == MODELS[key][3], sorted(modules)
    assert all(m.residual and float(m.alpha) == 0.0 and m.alpha.requires_grad
               for m in modules.values())  # the identity start of the insert scenario
    stages = {_stage_of(n) for n in modules}
    assert len(stages) == 3, stages  # stages 2-4
    called = []
    for name, module in modules.items():
        module.register_forward_hook(lambda m, a, o, name=name: called.append(name))
    with torch.no_grad():
        feats = model.extract_feat(torch.randn(1, 3, 128, 160))
    assert set(called) == set(modules) and len(called) == len(modules)
    assert all(torch.isfinite(f).all() for f in feats)


@pytest.mark.slow
@pytest.mark.parametrize('key', sorted(MODELS))
def test_identity_start_reproduces_the_plain_model_exactly(key):
    cbam_cfg = load_config(str(_path(key, 'cbam')))
    plain_cfg = load_config(str(_path(key, 'plain')))
    # DINO keeps its top 900 encoder proposals: 256x320 gives 1680 positions
    size = (256, 320) if key == 'dino' else (96, 128)
    for cfg in (cbam_cfg, plain_cfg):
        if task_of(cfg) == 'seg':
            cfg.model.data_preprocessor.size = size
    torch.manual_seed(0)
    plain = revert_sync_batchnorm(build_model(plain_cfg))
    with torch.no_grad():  # random weights and statistics stand in for the released ones
        for name, t in plain.state_dict().items():
            if t.is_floating_point():
                t.copy_(torch.rand_like(t) * 0.5 + 0.5 if 'running_var' in name else
                        torch.randn_like(t) * 0.05)
    report = check_identity_start(cbam_cfg, plain_cfg, plain.state_dict(), batch_size=1,
                                  size=size)
    assert report['num_cbam'] == MODELS[key][3]
    assert report['missing'] and not report['missing_not_cbam'] and not report['unexpected']
    assert report['num_outputs'] >= 1 and report['max_diff'] == 0.0


def _scalars(work):
    path = next(work.glob('*/vis_data/scalars.json'))
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.slow
@pytest.mark.parametrize('key', sorted(MODELS))
def test_mini_counterpart_trains_evaluates_logs_and_draws(key, mini_data, tmp_path):
    config = _path(key, 'mini')
    cfg = load_config(str(config))
    det = task_of(cfg) == 'det'
    names = [n for n, _ in attention_modules(build_model(cfg))]
    assert len(names) >= 3
    work = tmp_path / 'work'
    if det:  # one epoch of 2 iterations on 4 images, validation on 4
        options = ['train_dataloader.dataset.indices=4', 'train_dataloader.batch_size=2',
                   'train_cfg.max_epochs=1', 'train_cfg.val_interval=1',
                   'val_dataloader.dataset.indices=4', 'val_dataloader.batch_size=2']
    else:  # 2 iterations, then validation on 4 images
        options = ['train_cfg.max_iters=2', 'train_cfg.val_interval=2',
                   'train_dataloader.batch_size=2', 'val_dataloader.dataset.indices=4',
                   'default_hooks.checkpoint.interval=2']
    run_tool('mm_cbam.train', config, '--work-dir', work, '--cfg-options',
             'default_hooks.logger.interval=1', *options)
    scalars = _scalars(work)
    train = [e for e in scalars if 'loss' in e]
    assert len(train) == 2 and all(torch.isfinite(torch.tensor(e['loss'])) for e in train)
    for name in names:  # the stability hook found and logged every inserted module
        assert f'cbam/{name}/alpha' in train[-1] and f'cbam/{name}/sa_mean' in train[-1], name
    metrics = [e for e in scalars if ('coco/bbox_mAP' if det else 'mIoU') in e]
    assert len(metrics) == 1
    if key == 'swin':  # Mask R-CNN: segm mAP from the mini set's polygons
        assert 0.0 <= metrics[0]['coco/segm_mAP'] <= 1.0
    overlays = list(work.glob('*/cbam_attention/*/*.png'))
    assert len(overlays) >= 2 * 3, overlays  # 2 images x at least 3 layers
