"""The exportable parts of detectors and segmentors, as modules from an image tensor to tensors.

Every wrapper takes the image as the config's test pipeline loads it -- float32 (B, 3, H, W),
0-255, in the loader's channel order (BGR for ``LoadImageFromFile``) -- and applies the model's
data preprocessor steps itself (channel flip, mean / std), so the exported graph is the model
end to end. Padding is not part of the graph: H and W are fixed at export and must be multiples
of the detector's ``pad_size_divisor``.

Parts (:data:`PARTS`):

* segmentor ``full`` (default): the logits (B, K, H, W) that ``predict`` takes the arg-max of
  (``encode_decode``: backbone, neck, decode head, bilinear resize to the input size);
  ``backbone`` / ``features``: the backbone's / the neck's feature maps;
* detector ``features`` (default): backbone + neck; ``backbone``; ``dense``: the features and
  the raw outputs of the dense head (the RPN of a two-stage detector, the whole head of a
  single-stage one: per level class scores and box deltas) -- everything before the
  post-processing; ``full``: refused, with the reason (:data:`DETECTOR_FULL_REASON`).

After a call, the wrapper's ``output_names`` name its outputs (``seg_logits``; ``feat0, ...``;
``cls_score0, ..., bbox_pred0, ...``).
"""
from typing import List, Sequence, Tuple

import torch
import torch.nn as nn
from torch import Tensor

from .loading import DeployError

PARTS = {'seg': ('full', 'backbone', 'features'), 'det': ('features', 'backbone', 'dense', 'full')}
DEFAULT_PART = {'seg': 'full', 'det': 'features'}
DETECTOR_FULL_REASON = (
    "the detector's post-processing does not export with torch.onnx: proposals and detections "
    'come from NMS (mmcv.ops.nms, a custom autograd function without an ONNX symbolic), a '
    "two-stage detector's RoI head reads the proposals with RoIAlign (mmcv.ops, likewise) and "
    'the number of boxes depends on the data. Export --part dense (everything before the '
    'post-processing) and decode the boxes outside the graph, or use mmdeploy, which provides '
    'ONNX symbolics and onnxruntime custom ops for these (its territory: deployment of whole '
    'detectors)')


class Preprocess(nn.Module):
    """The data preprocessor's per-pixel steps: channel flip (``bgr_to_rgb``) and mean / std."""

    def __init__(self, data_preprocessor):
        super().__init__()
        self.flip = bool(getattr(data_preprocessor, '_channel_conversion',
                                 getattr(data_preprocessor, 'channel_conversion', False)))
        normalize = getattr(data_preprocessor, '_enable_normalize', False)
        mean = data_preprocessor.mean if normalize else torch.zeros(3, 1, 1)
        std = data_preprocessor.std if normalize else torch.ones(3, 1, 1)
        self.register_buffer('mean', mean.detach().clone().view(1, -1, 1, 1))  # (1, 3, 1, 1)
        self.register_buffer('std', std.detach().clone().view(1, -1, 1, 1))  # (1, 3, 1, 1)

    def forward(self, image: Tensor) -> Tensor:
        if self.flip:
            image = image.flip(1)  # (B, 3, H, W), BGR <-> RGB
        return (image - self.mean) / self.std  # (B, 3, H, W)


def _flatten(outputs) -> Tuple[Tensor, ...]:
    if isinstance(outputs, Tensor):
        return (outputs, )
    return tuple(t for o in outputs for t in _flatten(o))


def _named(outputs, prefix: str) -> List[str]:
    """``prefix0, prefix1, ...`` for a flat sequence; for a dense head's tuple of per-level lists
    ``cls_score{level}``, ``bbox_pred{level}`` (``{prefix}{k}_{level}`` beyond two groups)."""
    if outputs and not isinstance(outputs[0], Tensor):
        groups = ('cls_score', 'bbox_pred') if len(outputs) == 2 else [
            f'{prefix}{k}_' for k in range(len(outputs))]
        return [f'{g}{lv}' for g, group in zip(groups, outputs) for lv in range(len(group))]
    return [f'{prefix}{i}' for i in range(len(outputs))]


class SegmentorExport(nn.Module):
    """A segmentor from the image to its logits (``full``) or features."""

    def __init__(self, segmentor, part: str = 'full'):
        super().__init__()
        self.pre = Preprocess(segmentor.data_preprocessor)
        self.model, self.part = segmentor, part

    def forward(self, image: Tensor):
        x = self.pre(image)  # (B, 3, H, W) normalised
        if self.part in ('backbone', 'features'):
            model = self.model
            feats = model.backbone(x) if self.part == 'backbone' else model.extract_feat(x)
            self.output_names = _named(_flatten(feats), 'feat')
            return _flatten(feats)
        h, w = image.shape[-2:]
        metas = [dict(img_shape=(h, w), pad_shape=(h, w))] * image.shape[0]
        self.output_names = ['seg_logits']
        return self.model.encode_decode(x, metas)  # (B, K, H, W)


class DetectorExport(nn.Module):
    """A detector from the image to its backbone / neck features, optionally followed by the
    dense head's raw outputs (``dense``)."""

    def __init__(self, detector, part: str = 'features'):
        super().__init__()
        if part == 'full':
            raise DeployError(f'--part full: {DETECTOR_FULL_REASON}')
        self.pre = Preprocess(detector.data_preprocessor)
        self.model, self.part = detector, part
        if part == 'dense' and dense_head(detector) is None:
            raise DeployError(f'--part dense: {type(detector).__name__} has neither an rpn_head '
                              'nor a bbox_head; export --part features')

    def forward(self, image: Tensor):
        x = self.pre(image)  # (B, 3, H, W) normalised
        if self.part == 'backbone':
            feats = _flatten(self.model.backbone(x))
        else:
            feats = _flatten(self.model.extract_feat(x))  # levels of (B, C, H / s, W / s)
        self.output_names = _named(feats, 'feat')
        if self.part != 'dense':
            return feats
        head = dense_head(self.model)(feats)  # (class scores per level, box deltas per level)
        self.output_names += _named(head, 'head')
        return feats + _flatten(head)


def dense_head(detector):
    """The RPN of a two-stage detector or the head of a single-stage one (None if neither)."""
    return getattr(detector, 'rpn_head', None) or getattr(detector, 'bbox_head', None)


def export_module(model, task: str, part: str) -> nn.Module:
    """The wrapper of ``model`` (a built mmdet / mmseg model) for ``part`` of :data:`PARTS`."""
    if part not in PARTS[task]:
        raise DeployError(f'--part {part!r} is not a part of a '
                          f"{'detector' if task == 'det' else 'segmentor'}; allowed: "
                          + ', '.join(PARTS[task]))
    wrapper = DetectorExport(model, part) if task == 'det' else SegmentorExport(model, part)
    return wrapper.eval()


def check_shape(model, task: str, shape: Sequence[int]) -> Tuple[int, int]:
    """``(H, W)`` checked: positive, and multiples of a detector's ``pad_size_divisor``."""
    h, w = (int(v) for v in shape)
    if h <= 0 or w <= 0:
        raise DeployError(f'--shape {h} {w}: height and width must be positive')
    divisor = int(getattr(model.data_preprocessor, 'pad_size_divisor', 1) or 1)
    if task == 'det' and (h % divisor or w % divisor):
        raise DeployError(f'--shape {h} {w}: a detector input must be a multiple of its '
                          f'pad_size_divisor={divisor} (the data preprocessor pads to it), e.g. '
                          f'--shape {-(-h // divisor) * divisor} {-(-w // divisor) * divisor}')
    return h, w


def default_shape(cfg, task: str) -> Tuple[int, int]:
    """The config's input size: a segmentor's ``data_preprocessor.size`` (crop size), else the
    test pipeline's first ``Resize`` scale (rounded up to 32)."""
    size = cfg.model.get('data_preprocessor', {}).get('size') if task == 'seg' else None
    if size:
        return int(size[0]), int(size[1])
    for step in cfg.get('test_dataloader', {}).get('dataset', {}).get('pipeline', []) or []:
        if 'Resize' in str(step.get('type', '')) and step.get('scale'):
            w, h = step['scale'][:2] if isinstance(step['scale'], (list, tuple)) else (
                step['scale'], step['scale'])
            return -(-int(h) // 32) * 32, -(-int(w) // 32) * 32
    return 512, 512
