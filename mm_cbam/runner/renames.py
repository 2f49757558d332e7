"""Config paths of earlier mm_cbam versions and where those configs live now (mmdet's layout).

The tools accept an old path (``configs/faster_rcnn_r50_cbam.py``, as in existing scripts) with a
warning naming the new one; this table is the one place that knows them.
"""
import os.path as osp
import warnings
from typing import Optional

# old file name under configs/ -> new path under configs/
CONFIG_RENAMES = {
    'faster_rcnn_r50_baseline.py':
        'faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py',
    'faster_rcnn_r50_cbam.py':
        'faster_rcnn/faster-rcnn_r50-cbam_fpn_1x_coco.py',
    'faster_rcnn_r50_cbam_residual.py':
        'faster_rcnn/faster-rcnn_r50-cbam-residual-fixed_fpn_1x_coco.py',
    'faster_rcnn_r50_cbam_residual_learnable.py':
        'faster_rcnn/faster-rcnn_r50-cbam-identity-start_fpn_1x_coco.py',
    'faster_rcnn_r50_cbam_temperature.py':
        'faster_rcnn/faster-rcnn_r50-cbam-temperature-2_fpn_1x_coco.py',
    'faster_rcnn_r50_cbam_temperature_learnable.py':
        'faster_rcnn/faster-rcnn_r50-cbam-temperature-learnable_fpn_1x_coco.py',
    'faster_rcnn_r50_cbam_dynamic.py':
        'faster_rcnn/faster-rcnn_r50-cbam-dynamic_fpn_1x_coco.py',
    'faster_rcnn_r50_cbam-official.py':
        'faster_rcnn/faster-rcnn_r50-cbam-official_fpn_1x_coco.py',
    'faster_rcnn_r50_fpn_cbam.py':
        'faster_rcnn/faster-rcnn_r50_fpn-cbam_1x_coco.py',
    'faster_rcnn_r18_baseline.py':
        'faster_rcnn/faster-rcnn_r18_fpn_1x_coco.py',
    'faster_rcnn_r18_cbam.py':
        'faster_rcnn/faster-rcnn_r18-cbam_fpn_1x_coco.py',
    'faster_rcnn_regnetx-3.2gf_baseline.py':
        'faster_rcnn/faster-rcnn_regnetx-3.2GF_fpn_1x_coco.py',
    'faster_rcnn_regnetx-3.2gf_cbam_insert.py':
        'faster_rcnn/faster-rcnn_regnetx-3.2GF-cbam_fpn_1x_coco.py',
    'mask_rcnn_r50_baseline.py':
        'mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py',
    'mask_rcnn_r50_cbam.py':
        'mask_rcnn/mask-rcnn_r50-cbam_fpn_1x_coco.py',
    'retinanet_r50_baseline.py':
        'retinanet/retinanet_r50_fpn_1x_coco.py',
    'retinanet_r50_cbam.py':
        'retinanet/retinanet_r50-cbam_fpn_1x_coco.py',
    'deeplabv3plus_r18_80k_cityscapes_baseline.py':
        'deeplabv3plus/deeplabv3plus_r18-d8_4xb2-80k_cityscapes-512x1024.py',
    'deeplabv3plus_r18_80k_cityscapes_cbam.py':
        'deeplabv3plus/deeplabv3plus_r18-d8-cbam_4xb2-80k_cityscapes-512x1024.py',
    'deeplabv3plus_r50_40k_cityscapes_baseline.py':
        'deeplabv3plus/deeplabv3plus_r50-d8_4xb2-40k_cityscapes-512x1024.py',
    'deeplabv3plus_r50_40k_cityscapes_cbam.py':
        'deeplabv3plus/deeplabv3plus_r50-d8-cbam_4xb2-40k_cityscapes-512x1024.py',
    'deeplabv3plus_r50_40k_cityscapes_cbam-head.py':
        'deeplabv3plus/deeplabv3plus_r50-d8_head-cbam_4xb2-40k_cityscapes-512x1024.py',
    'deeplabv3plus_r50_40k_cityscapes_cbam-official.py':
        'deeplabv3plus/deeplabv3plus_r50-d8-cbam-official_4xb2-40k_cityscapes-512x1024.py',
    'deeplabv3plus_r50_80k_cityscapes_baseline.py':
        'deeplabv3plus/deeplabv3plus_r50-d8_4xb2-80k_cityscapes-512x1024.py',
    'deeplabv3plus_r50_80k_cityscapes_cbam.py':
        'deeplabv3plus/deeplabv3plus_r50-d8-cbam_4xb2-80k_cityscapes-512x1024.py',
    'pspnet_r50_40k_cityscapes_baseline.py':
        'pspnet/pspnet_r50-d8_4xb2-40k_cityscapes-512x1024.py',
    'pspnet_r50_40k_cityscapes_cbam.py':
        'pspnet/pspnet_r50-d8-cbam_4xb2-40k_cityscapes-512x1024.py',
    'pspnet_r50_80k_cityscapes_baseline.py':
        'pspnet/pspnet_r50-d8_4xb2-80k_cityscapes-512x1024.py',
    'pspnet_r50_80k_cityscapes_cbam.py':
        'pspnet/pspnet_r50-d8-cbam_4xb2-80k_cityscapes-512x1024.py',
    'mini_faster_rcnn_r18_baseline.py':
        'mini/faster-rcnn_r18_fpn_12e_mini-coco.py',
    'mini_faster_rcnn_r18_cbam.py':
        'mini/faster-rcnn_r18-cbam_fpn_12e_mini-coco.py',
    'mini_deeplabv3plus_r18_baseline.py':
        'mini/deeplabv3plus_r18-d8_500i_mini-cityscapes.py',
    'mini_deeplabv3plus_r18_cbam.py':
        'mini/deeplabv3plus_r18-d8-cbam_500i_mini-cityscapes.py',
}


def renamed_config(path: str) -> Optional[str]:
    """The new path of an old config path that no longer exists, else None."""
    if osp.exists(path):
        return None
    folder, name = osp.split(path)
    new = CONFIG_RENAMES.get(name)
    if new is None or osp.basename(osp.normpath(folder or '.')) != 'configs':
        return None
    return osp.join(folder, new)


def resolve_config_path(path: str) -> str:
    """``path``, or its new location (with a warning) if it is an old config path."""
    new = renamed_config(str(path))
    if new is None:
        return path
    warnings.warn(f'config {path} was renamed to {new} (mmdet-style layout); the old path still '
                  'works but please use the new one')
    return new
