"""Draw the attention of a trained CBAM model over images.

Usage::

    python -m mm_cbam.analysis.visualize_attention CONFIG CHECKPOINT IMAGE [IMAGE ...]
        [--layers PATTERN ...] [--max-layers 4] [--out-dir DIR] [--device cpu]
        [--cfg-options ...] [--tensorboard]

For each image and chosen layer (module-path patterns such as ``'backbone.layer4.*'``; default:
up to ``--max-layers`` layers from first to last) it writes ``<out-dir>/<image>_<layer>.png``: the
image, the spatial mask resized to the image over it, and the strongest channel weights. The
image goes through the config's test pipeline exactly as in evaluation (mmdet's
``inference_detector`` / mmseg's ``inference_model``). ``--tensorboard`` also logs the overlays
to a TensorBoard event file in ``<out-dir>/tensorboard``.
"""
import argparse
import os
import os.path as osp
import sys
from typing import List

import cv2

import mm_cbam  # noqa: F401
from mm_cbam.attention import attention_modules, record_attention
from mm_cbam.overlays import draw_attention, mask_for_image, select_layers
from mm_cbam.runner.cli import add_model_image_args
from mm_cbam.runner.config import load_config, register_scope, task_of


def load_model(cfg, checkpoint: str, device: str):
    task = task_of(cfg)
    register_scope(task)
    if task == 'det':
        from mmdet.apis import inference_detector, init_detector
        return init_detector(cfg, checkpoint, device=device), inference_detector
    from mmseg.apis import inference_model, init_model
    return init_model(cfg, checkpoint, device=device), inference_model


def visualize(cfg, checkpoint: str, images: List[str], out_dir: str, layers=None,
              max_layers: int = 4, device: str = 'cpu', tensorboard: bool = False) -> List[str]:
    """Write overlay PNGs for ``images``; returns their paths."""
    model, infer = load_model(cfg, checkpoint, device)
    modules = dict(attention_modules(model))
    if not modules:
        raise ValueError(f'the model of {cfg.filename} has no mm_cbam attention module')
    chosen = select_layers(list(modules), layers, max_layers)
    os.makedirs(out_dir, exist_ok=True)
    writer = None
    if tensorboard:
        from torch.utils.tensorboard import SummaryWriter
        writer = SummaryWriter(osp.join(out_dir, 'tensorboard'))
    written = []
    for image_path in images:
        image = cv2.imread(image_path)
        if image is None:
            raise FileNotFoundError(f'cannot read image {image_path}')
        with record_attention(model):
            result = infer(model, image_path)
            maps = {name: modules[name].last_maps for name in chosen}
        meta = result.metainfo
        rgb = image[..., ::-1]
        stem = osp.splitext(osp.basename(image_path))[0]
        for name in chosen:
            if not maps[name] or maps[name].get('sa') is None:
                continue
            sa = mask_for_image(maps[name]['sa'][0], meta['img_shape'],
                                meta.get('batch_input_shape', meta['img_shape']),
                                out_shape=rgb.shape[:2])
            ca = maps[name]['ca'][0].float().cpu().numpy() if maps[name].get(
                'ca') is not None else None
            drawn = draw_attention(rgb, sa, ca, title=f'{stem}: {name}')
            path = osp.join(out_dir, f'{stem}_{name}.png')
            cv2.imwrite(path, drawn[..., ::-1])
            written.append(path)
            if writer is not None:
                writer.add_image(f'cbam/{name}/{stem}', drawn, dataformats='HWC')
    if writer is not None:
        writer.close()
    return written


def main(argv=None) -> int:
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    add_model_image_args(parser)
    parser.add_argument('--layers', nargs='+', help='module-path patterns of layers to draw')
    parser.add_argument('--max-layers', type=int, default=4)
    parser.add_argument('--out-dir', default='work_dirs/attention')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--tensorboard', action='store_true')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    paths = visualize(cfg, args.checkpoint, args.images, args.out_dir, args.layers,
                      args.max_layers, args.device, args.tensorboard)
    for path in paths:
        print(path)
    return 0


if __name__ == '__main__':
    sys.exit(main())
