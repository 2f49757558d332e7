"""Small helpers shared by tools and tests: task detection, config loading, synthetic batches."""
import os
import re
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch


def _scopes(path: str, seen=None) -> set:
    """Packages a config file and its local bases refer to with ``pkg::`` base paths."""
    seen = set() if seen is None else seen
    path = os.path.abspath(path)
    if path in seen or not os.path.isfile(path):
        return set()
    seen.add(path)
    with open(path) as f:
        text = f.read()
    found = set(re.findall(r"""['"](\w+)::""", text))
    for base in re.findall(r"""['"]((?:\.\.?/|[\w-]+/)[^'":]*\.py)['"]""", text):
        found |= _scopes(os.path.join(os.path.dirname(path), base), seen)
    return found


def load_config(path: str, cfg_options: Optional[dict] = None):
    """Load an mm_cbam / mmdet / mmseg config, apply ``--cfg-options`` and import its modules.

    A config whose bases live in a package that is not installed (``mmdet::...`` without mmdet)
    fails with :class:`~mm_cbam.optional.MissingPackageError` naming the package to install.
    """
    from mmengine.config import Config

    from .optional import PACKAGES, require
    try:
        cfg = Config.fromfile(path)
    except Exception:
        for package in sorted(_scopes(path) & set(PACKAGES)):
            require(package, f'{path} (its _base_ refers to {package}::)')
        raise
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if cfg.get('custom_imports'):
        from mmengine.utils import import_modules_from_strings
        import_modules_from_strings(**cfg['custom_imports'])
    return cfg


ATTENTION_TYPES = ('CBAM', 'CBAMChannelAttention', 'CBAMSpatialAttention')


def plain_model_config(model_cfg):
    """The model config without mm_cbam attention: ``CBAMNeck`` -> its ``neck_type`` (or no
    neck), ``InsertCBAM`` -> its ``model_type``, attention plugins removed. The plain model has
    the same parameter names minus the attention's, so it is the baseline an identity start
    must reproduce."""
    import copy
    if isinstance(model_cfg, (list, tuple)):
        return type(model_cfg)(plain_model_config(v) for v in model_cfg)
    if not isinstance(model_cfg, dict):
        return copy.deepcopy(model_cfg)
    cfg = {k: plain_model_config(v) for k, v in model_cfg.items()}
    kind = cfg.get('type')
    if kind == 'CBAMNeck':
        if cfg.get('neck_type') is None:
            return None
        rest = {k: v for k, v in cfg.items() if k not in (
            'type', 'neck_type', 'cbam', 'levels', 'shared', 'out_channels_per_level')}
        return dict(type=cfg['neck_type'], **rest)
    if kind == 'InsertCBAM':
        rest = {k: v for k, v in cfg.items() if k not in ('type', 'model_type', 'insert')}
        return dict(type=cfg['model_type'], **rest)
    if isinstance(cfg.get('plugins'), (list, tuple)):
        kept = [p for p in cfg['plugins']
                if not (isinstance(p, dict) and (p.get('cfg') or {}).get('type') in
                        ATTENTION_TYPES)]
        cfg['plugins'] = kept or None
    return type(model_cfg)(cfg)


def task_of(cfg) -> str:
    """``'det'`` or ``'seg'`` from a config's default scope."""
    scope = cfg.get('default_scope')
    if scope == 'mmdet':
        return 'det'
    if scope == 'mmseg':
        return 'seg'
    raise ValueError(f"{cfg.filename}: default_scope is {scope!r}; mm_cbam tools run mmdet "
                     "('mmdet') and mmseg ('mmseg') configs")


def register_scope(task: str):
    """Register all modules of mmdet / mmseg and make it the default scope (a clear error
    naming the package to install if it is missing)."""
    from .optional import require
    package = 'mmdet' if task == 'det' else 'mmseg'
    require(package, f"a {'detection' if task == 'det' else 'segmentation'} config "
            f"(default_scope='{package}')")
    import importlib
    importlib.import_module(f'{package}.utils').register_all_modules(init_default_scope=True)


def build_model(cfg):
    """Build ``cfg.model`` in the config's scope (weights are not initialised from files)."""
    from mmengine.registry import MODELS, DefaultScope
    task = task_of(cfg)
    register_scope(task)
    scope = 'mmdet' if task == 'det' else 'mmseg'
    with DefaultScope.overwrite_default_scope(scope):
        return MODELS.build(cfg.model)


def synthetic_batch(model, task: str, batch_size: int = 2, size: Tuple[int, int] = (64, 96),
                    num_classes: int = 3, seed: int = 0) -> Dict[str, object]:
    """A raw batch (uint8 images + data samples with random ground truth) for ``model``.

    Detection samples carry boxes, labels and bitmap masks; segmentation samples a label map.
    Pass it through ``model.data_preprocessor`` before calling the model.
    """
    g = torch.Generator().manual_seed(seed)
    h, w = size
    inputs: List[torch.Tensor] = []
    samples = []
    for _ in range(batch_size):
        inputs.append(torch.randint(0, 256, (3, h, w), generator=g, dtype=torch.uint8))
        meta = dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w), scale_factor=(1.0, 1.0),
                    img_path='synthetic.png')
        if task == 'det':
            from mmdet.structures import DetDataSample
            from mmdet.structures.mask import BitmapMasks
            from mmengine.structures import InstanceData
            n = 3
            xy = torch.rand(n, 2, generator=g) * torch.tensor([w * 0.6, h * 0.6])
            wh = torch.rand(n, 2, generator=g) * torch.tensor([w * 0.3, h * 0.3]) + 8
            boxes = torch.cat([xy, xy + wh], dim=1)
            masks = np.zeros((n, h, w), dtype=np.uint8)
            for i, (x1, y1, x2, y2) in enumerate(boxes.round().int().tolist()):
                masks[i, y1:y2, x1:x2] = 1
            sample = DetDataSample(metainfo=meta)
            sample.gt_instances = InstanceData(
                bboxes=boxes, labels=torch.randint(0, num_classes, (n, ), generator=g),
                masks=BitmapMasks(masks, h, w))
        else:
            from mmengine.structures import PixelData
            from mmseg.structures import SegDataSample
            sample = SegDataSample(metainfo=meta)
            sample.gt_sem_seg = PixelData(
                data=torch.randint(0, num_classes, (1, h, w), generator=g))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)
