"""What the ``grad-cam`` library needs to explain mmdet 3.x detectors and mmseg 1.x segmentors:
the image as the model sees it, the model as a function of its input tensor, and the targets.

* :func:`load_image` runs an image file through the config's test pipeline (annotations
  dropped) and the model's data preprocessor, as ``inference_detector`` / ``inference_model``
  do;
* :class:`DetectorCAMModel` returns, per image, the predicted boxes in torchvision's format
  (``dict(boxes, labels, scores)``), which the library's ``FasterRCNNBoxScoreTarget`` reads;
  scores stay differentiable through mmdet's post-processing (RoIAlign has a backward, NMS only
  selects);
* :class:`SegmentorCAMModel` returns the logits (B, K, H, W), for the library's
  ``SemanticSegmentationTarget``;
* :func:`detector_targets` / :func:`segmentor_targets` pick what to explain: the top predicted
  boxes one by one or one class at a time (all its boxes), the classes with the largest
  predicted area.
"""
from typing import List, Optional, Sequence

import numpy as np
import torch
import torch.nn as nn

from mm_cbam.deployment.loading import DeployError


def class_names(cfg, model, task: str) -> List[str]:
    """Class names from the model's ``dataset_meta``, the config's dataset ``metainfo`` or the
    dataset class; ``['0', '1', ...]`` if none is found."""
    meta = getattr(model, 'dataset_meta', None) or {}
    if meta.get('classes'):
        return list(meta['classes'])
    dataset = cfg.get('test_dataloader', {}).get('dataset', {})
    classes = (dataset.get('metainfo') or {}).get('classes')
    if classes:
        return list(classes)
    import importlib
    registry = importlib.import_module(f"{'mmdet' if task == 'det' else 'mmseg'}.registry")
    cls = registry.DATASETS.get(dataset.get('type')) if dataset.get('type') else None
    return list(getattr(cls, 'METAINFO', {}).get('classes', ()))


def _name(names: Sequence[str], label: int) -> str:
    return names[label] if 0 <= label < len(names) else str(label)


def load_image(cfg, model, task: str, path: str) -> dict:
    """``dict(inputs, data_samples, rgb)``: the preprocessed batch of one image file and the
    image as the network sees it (after the pipeline's resize, before padding), RGB uint8."""
    from mmengine.dataset import Compose, pseudo_collate
    from mmengine.registry import DefaultScope
    pipeline = [dict(step) for step in cfg.test_dataloader.dataset.pipeline
                if 'LoadAnnotations' not in str(step.get('type', ''))]
    with DefaultScope.overwrite_default_scope('mmdet' if task == 'det' else 'mmseg'):
        try:
            data = Compose(pipeline)(dict(img_path=str(path), img_id=0))
        except (FileNotFoundError, OSError) as exc:
            raise FileNotFoundError(f'cannot read image {path}: {exc}') from None
    if data is None:
        raise DeployError(f'the test pipeline of {cfg.filename} dropped image {path}')
    bgr = data['inputs'].permute(1, 2, 0).numpy()  # (H, W, 3) as loaded (BGR)
    h, w = data['data_samples'].metainfo['img_shape'][:2]
    batch = model.data_preprocessor(pseudo_collate([data]), False)
    return dict(inputs=batch['inputs'], data_samples=batch['data_samples'],
                rgb=np.ascontiguousarray(bgr[:h, :w, ::-1]))


class DetectorCAMModel(nn.Module):
    """A detector as a function of its (preprocessed) input: per image
    ``dict(boxes (N, 4), labels (N,), scores (N,))`` of ``predict`` (no rescale)."""

    def __init__(self, detector, data_samples):
        super().__init__()
        self.model, self.data_samples = detector, data_samples

    def forward(self, inputs):
        results = self.model.predict(inputs, self.data_samples, rescale=False)
        return [dict(boxes=r.pred_instances.bboxes, labels=r.pred_instances.labels,
                     scores=r.pred_instances.scores) for r in results]


class SegmentorCAMModel(nn.Module):
    """A segmentor as a function of its (preprocessed) input: the logits (B, K, H, W)."""

    def __init__(self, segmentor, data_samples):
        super().__init__()
        self.model = segmentor
        self.metas = [s.metainfo for s in data_samples]

    def forward(self, inputs):
        return self.model.encode_decode(inputs, self.metas)  # (B, K, H, W)


class Explained:
    """One thing to explain: a grad-cam target, a file-name tag, a title and boxes to draw."""

    def __init__(self, target, tag: str, title: str, boxes: Optional[np.ndarray] = None):
        self.target, self.tag, self.title, self.boxes = target, tag, title, boxes


def detector_targets(prediction: dict, names: Sequence[str], mode: str = 'box', topk: int = 3,
                     score_thr: float = 0.3, iou_thr: float = 0.5) -> List[Explained]:
    """The top ``topk`` boxes scoring at least ``score_thr`` one by one (``mode='box'``) or
    their classes, each with all its boxes above the threshold (``mode='class'``)."""
    from pytorch_grad_cam.utils.model_targets import FasterRCNNBoxScoreTarget
    scores = prediction['scores'].detach()
    keep = (scores >= score_thr).nonzero().flatten()[:max(topk, 0) if mode == 'box' else None]
    boxes = prediction['boxes'].detach()[keep].cpu().numpy()  # (N, 4)
    labels = prediction['labels'][keep].cpu().numpy()  # (N,)
    chosen = scores[keep].cpu().numpy()
    if mode == 'box':
        return [Explained(FasterRCNNBoxScoreTarget([int(lb)], [box], iou_thr),
                          f'box{i}-{_name(names, int(lb))}',
                          f'box {i}: {_name(names, int(lb))} {sc:.2f}', box[None])
                for i, (box, lb, sc) in enumerate(zip(boxes, labels, chosen))]
    if mode != 'class':
        raise DeployError(f"--target {mode!r}: allowed values for a detector are 'box', 'class'")
    out = []
    for lb in list(dict.fromkeys(labels.tolist()))[:topk]:
        sel = labels == lb
        out.append(Explained(FasterRCNNBoxScoreTarget([lb] * int(sel.sum()), boxes[sel], iou_thr),
                             f'class-{_name(names, lb)}',
                             f'class {_name(names, lb)} ({int(sel.sum())} boxes)', boxes[sel]))
    return out


def segmentor_targets(logits: torch.Tensor, names: Sequence[str], topk: int = 2,
                      classes: Optional[Sequence[str]] = None) -> List[Explained]:
    """Per class (the ``classes`` given by name or index, else the ``topk`` largest predicted
    areas): the logits of that class summed over the pixels predicted as it."""
    from pytorch_grad_cam.utils.model_targets import SemanticSegmentationTarget
    pred = logits[0].argmax(dim=0).cpu().numpy()  # (H, W)
    if classes:
        ids = []
        for c in classes:
            if c in names:
                ids.append(list(names).index(c))
            elif str(c).isdigit() and int(c) < logits.shape[1]:
                ids.append(int(c))
            else:
                raise DeployError(f'--classes: {c!r} is neither a class name nor an index < '
                                  f'{logits.shape[1]}; classes: {list(names)}')
    else:
        counts = np.bincount(pred.ravel(), minlength=logits.shape[1])
        ids = [int(k) for k in np.argsort(-counts, kind='stable')[:topk] if counts[k] > 0]
    out = []
    for k in ids:
        mask = (pred == k).astype(np.float32)  # (H, W)
        out.append(Explained(SemanticSegmentationTarget(k, mask), f'class-{_name(names, k)}',
                             f'class {_name(names, k)} ({mask.mean():.0%} of the pixels)'))
    return out
