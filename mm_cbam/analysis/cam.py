"""Grad-CAM (and the other CAM methods of the ``grad-cam`` library) for mmdet 3.x detectors and
mmseg 1.x segmentors, next to the CBAM spatial mask of the same layer.

Usage::

    python -m mm_cbam.analysis.cam CONFIG CHECKPOINT IMAGE [IMAGE ...] --layers PATTERN [...]
        [--method gradcam|gradcam++|xgradcam|eigencam|eigengradcam|layercam|hirescam|
                  gradcamelementwise]
        [--baseline CONFIG CHECKPOINT] [--target box|class] [--topk 3] [--score-thr 0.3]
        [--classes NAME ...] [--out DIR] [--cfg-options ...]
    python tools/analysis/cam.py ...   # the same

Layers are picked with the dotted module patterns of ``InsertCBAM`` (``backbone.layer3.1``,
``backbone.layer*.1``; ``*`` one name component, ``**`` any number); every matched module gets
its panels. What is explained: for a detector each of the ``--topk`` top predicted boxes
(``--target box``, default) or each predicted class with all its boxes (``--target class``;
the library's ``FasterRCNNBoxScoreTarget``: IoU with the matching prediction plus its score);
for a segmentor each class (``--classes``, default the ``--topk`` largest predicted areas: the
class's logits summed over its predicted pixels, ``SemanticSegmentationTarget``).

For each image, layer and target it writes ``<out>/<image>_<layer>_<target>.png``: side by side
the baseline model's CAM (with ``--baseline``; same layer name, same input and target -- a box
the baseline does not predict gives no gradient and is marked so), the CBAM model's CAM, and the
spatial mask (``sa``) of the CBAM module in that layer (the last one under it, else the one
next to it in its parent). Maps are shown on the image as the network sees it (test pipeline
resize, padding cropped); the baseline runs on the same preprocessed input. The CAM methods
are the library's; nothing here computes a CAM by hand.
"""
import argparse
import os
import os.path as osp
import re
import sys
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

import mm_cbam  # noqa: F401  (registration, compatibility fixes)
from mm_cbam.analysis.cam_models import (DetectorCAMModel, SegmentorCAMModel, class_names,
                                         detector_targets, load_image, segmentor_targets)
from mm_cbam.analysis.cam_panels import draw_panels, panel_titles
from mm_cbam.attention import attention_modules, record_attention
from mm_cbam.deployment.loading import DeployError, build_eval_model
from mm_cbam.optional import require
from mm_cbam.patterns import pattern_to_regex
from mm_cbam.runner.cli import add_model_image_args, run_cli
from mm_cbam.runner.config import load_config, task_of

METHODS = {'gradcam': 'GradCAM', 'gradcam++': 'GradCAMPlusPlus', 'xgradcam': 'XGradCAM',
           'eigencam': 'EigenCAM', 'eigengradcam': 'EigenGradCAM', 'layercam': 'LayerCAM',
           'hirescam': 'HiResCAM', 'gradcamelementwise': 'GradCAMElementWise'}
MAX_LAYERS = 12


def match_layers(model, patterns: Sequence[str]) -> Dict[str, torch.nn.Module]:
    """The modules of ``model`` whose dotted names match ``patterns``, in model order."""
    names = OrderedDict((n, m) for n, m in model.named_modules() if n)
    chosen: Dict[str, torch.nn.Module] = OrderedDict()
    for pattern in patterns:
        regex = pattern_to_regex(pattern)
        hits = [n for n in names if regex.match(n)]
        if not hits:
            prefix = pattern.split('*')[0].rsplit('.', 1)[0]
            near = [n for n in names if n.startswith(prefix)][:8] if prefix else list(names)[:8]
            raise DeployError(f'--layers {pattern!r} matches no module of the model; modules '
                              f'{"under " + repr(prefix) if prefix else ""} include {near}')
        chosen.update((n, names[n]) for n in hits)
    if len(chosen) > MAX_LAYERS:
        raise DeployError(f'--layers {list(patterns)} match {len(chosen)} modules (at most '
                          f'{MAX_LAYERS}): name the layers more precisely, e.g. '
                          f'{list(chosen)[:3]}')
    return chosen


def mask_module(model, layer: str) -> Optional[str]:
    """The attention module whose spatial mask belongs to ``layer``: the last one under it, else
    the last one under its parent (the CBAM next to it in the same block), else None."""
    names = [n for n, _ in attention_modules(model)]
    for scope in (layer, layer.rsplit('.', 1)[0] if '.' in layer else None):
        if scope is None:
            continue
        inside = [n for n in names if n == scope or n.startswith(scope + '.')]
        if inside:
            return inside[-1]
    return None


def cam_model(task: str, model, batch: dict):
    """The model as the CAM library calls it (input tensor -> predictions)."""
    cls = DetectorCAMModel if task == 'det' else SegmentorCAMModel
    return cls(model, batch['data_samples'])


def compute_cam(method: str, wrapper, layer: torch.nn.Module, batch: dict,
                target) -> np.ndarray:
    """The CAM (H, W) in [0, 1] of ``target`` at ``layer``, cropped to the image."""
    import pytorch_grad_cam
    cam = getattr(pytorch_grad_cam, METHODS[method])(model=wrapper, target_layers=[layer])
    try:
        heat = cam(input_tensor=batch['inputs'], targets=[target])[0]  # (H_pad, W_pad)
    finally:
        cam.activations_and_grads.release()
    h, w = batch['data_samples'][0].metainfo['img_shape'][:2]
    return heat[:h, :w]


def spatial_mask(model, name: Optional[str], batch: dict) -> Optional[np.ndarray]:
    """The recorded ``sa`` mask of attention module ``name`` resized to the image."""
    if name is None:
        return None
    from mm_cbam.overlays import mask_for_image
    module = dict(attention_modules(model))[name]
    maps = module.last_maps or {}
    if maps.get('sa') is None:
        return None
    meta = batch['data_samples'][0].metainfo
    return mask_for_image(maps['sa'][0], meta['img_shape'][:2],
                          meta.get('batch_input_shape', meta['img_shape'][:2]))


def _predict(task: str, wrapper, batch: dict):
    with torch.no_grad():
        out = wrapper(batch['inputs'])
    return out[0] if task == 'det' else out


def _safe(name: str) -> str:
    return re.sub(r'[^A-Za-z0-9_.-]+', '_', name)


def run(cfg, checkpoint: str, images: Sequence[str], layers: Sequence[str], out_dir: str,
        method: str = 'gradcam', baseline=None, target: str = 'box', topk: int = 3,
        score_thr: float = 0.3, classes=None) -> List[str]:
    """Write the panels (see the module documentation); returns the written paths.
    ``baseline``: ``(config, checkpoint)`` or None."""
    require('pytorch_grad_cam', 'Grad-CAM')
    if method not in METHODS:
        raise DeployError(f'--method {method!r}: allowed values are {", ".join(METHODS)}')
    task = task_of(cfg)
    model = build_eval_model(cfg, checkpoint)
    names = class_names(cfg, model, task)
    chosen = match_layers(model, layers)
    base_model = base_layers = None
    if baseline is not None:
        base_cfg = load_config(baseline[0])
        if task_of(base_cfg) != task:
            raise DeployError(f'--baseline {baseline[0]} is not a {task} config like '
                              f'{cfg.filename}')
        base_model = build_eval_model(base_cfg, baseline[1])
        own = dict(base_model.named_modules())
        missing = [n for n in chosen if n not in own]
        if missing:
            raise DeployError(f'--baseline model has no module {missing[0]} (a layer must exist '
                              'in both models: pick a block or a layer, not a CBAM module)')
        base_layers = {n: own[n] for n in chosen}
    os.makedirs(out_dir, exist_ok=True)
    written = []
    stems: Dict[str, str] = {}
    for image in images:
        batch = load_image(cfg, model, task, image)
        wrapper = cam_model(task, model, batch)
        with record_attention(model):
            prediction = _predict(task, wrapper, batch)
            masks = {n: spatial_mask(model, mask_module(model, n), batch) for n in chosen}
        if task == 'det':
            explained = detector_targets(prediction, names, target, topk, score_thr)
        else:
            explained = segmentor_targets(prediction, names, topk, classes)
        if not explained:
            print(f'{image}: nothing to explain (no prediction above --score-thr {score_thr})')
        base_wrapper = base_pred = None
        if base_model is not None:
            base_wrapper = cam_model(task, base_model, batch)
            base_pred = _predict(task, base_wrapper, batch)
        stem = osp.splitext(osp.basename(image))[0]
        if stems.setdefault(stem, image) != image:  # a/1.jpg and b/1.jpg: keep both
            stem = f'{stem}_{images.index(image)}'
        for layer_name, layer in chosen.items():
            mask = masks[layer_name]
            for item in explained:
                panels = []
                if base_model is not None:
                    matched = (task == 'seg' or method == 'eigencam'
                               or float(item.target(base_pred)) > 0)
                    heat = compute_cam(method, base_wrapper, base_layers[layer_name], batch,
                                       item.target) if matched else None
                    panels.append(heat)
                panels.append(compute_cam(method, wrapper, layer, batch, item.target))
                panels.append(mask)
                note = '' if panels[0] is not None or base_model is None else (
                    'no matching box')
                mask_name = mask_module(model, layer_name)
                titles = panel_titles(method, base_model is not None, mask_name, mask, note)
                where = layer_name + (f' (mask: {mask_name})' if mask is not None else '')
                drawn = draw_panels(batch['rgb'], list(zip(titles, panels)),
                                    f'{stem} | {where} | {item.title}', item.boxes)
                path = osp.join(out_dir, f'{stem}_{_safe(layer_name)}_{_safe(item.tag)}.png')
                import cv2
                cv2.imwrite(path, drawn[..., ::-1])
                written.append(path)
    return written


def main(argv=None) -> int:
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    add_model_image_args(parser)
    parser.add_argument('--layers', nargs='+', required=True,
                        help="dotted module patterns, e.g. 'backbone.layer3.1'")
    parser.add_argument('--method', default='gradcam', help=', '.join(METHODS))
    parser.add_argument('--baseline', nargs=2, metavar=('CONFIG', 'CHECKPOINT'))
    parser.add_argument('--target', default='box', choices=('box', 'class'),
                        help='detectors: explain each top box or each predicted class')
    parser.add_argument('--topk', type=int, default=3,
                        help='boxes / classes explained per image (default 3)')
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='detectors: lowest score of an explained box (default 0.3)')
    parser.add_argument('--classes', nargs='+', help='segmentors: class names or indices')
    parser.add_argument('--out', default='work_dirs/cam', help='output folder')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    paths = run(cfg, args.checkpoint, args.images, args.layers, args.out, args.method,
                args.baseline, args.target, args.topk, args.score_thr, args.classes)
    for path in paths:
        print(path)
    return 0


if __name__ == '__main__':
    sys.exit(run_cli(main, extra=(DeployError, )))
