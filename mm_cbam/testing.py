"""Synthetic inputs for tools and tests that run a model without a dataset."""
from typing import Dict, List, Tuple

import numpy as np
import torch


def synthetic_batch(model, task: str, batch_size: int = 2, size: Tuple[int, int] = (64, 96),
                    num_classes: int = 3, seed: int = 0) -> Dict[str, object]:
    """A raw batch (uint8 images + data samples with random ground truth) for ``model``.

    Detection samples carry boxes and labels, plus bitmap masks when the model has a mask head
    (``model.with_mask``); segmentation samples a label map.
    Pass it through ``model.data_preprocessor`` before calling the model (without a runner, the
    message hub's ``iter`` is set to 0 for batch augments that read it).
    """
    from mmengine.logging import MessageHub
    hub = MessageHub.get_current_instance()
    if hub.get_info('iter') is None:  # batch augments (YOLOX's resize) read the runner's iter
        hub.update_info('iter', 0)
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
            sample = DetDataSample(metainfo=meta)
            sample.gt_instances = InstanceData(
                bboxes=boxes, labels=torch.randint(0, num_classes, (n, ), generator=g))
            if getattr(model, 'with_mask', False):  # a box-shaped mask per instance
                masks = np.zeros((n, h, w), dtype=np.uint8)
                for i, (x1, y1, x2, y2) in enumerate(boxes.round().int().tolist()):
                    masks[i, y1:y2, x1:x2] = 1
                sample.gt_instances.masks = BitmapMasks(masks, h, w)
        else:
            from mmengine.structures import PixelData
            from mmseg.structures import SegDataSample
            sample = SegDataSample(metainfo=meta)
            sample.gt_sem_seg = PixelData(
                data=torch.randint(0, num_classes, (1, h, w), generator=g))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)
