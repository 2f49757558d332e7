"""Metrics at full precision, and their bootstrap over the validation images.

mmdet rounds COCO AP to 3 decimals, mmseg mIoU to 2; differences between variants are of that
size. :class:`~mm_cbam.engine.hooks.EvalDumpHook` keeps what each validation evaluated, and
here the metrics are recomputed exactly:

* detection: pycocotools' own ``COCOeval`` on the dumped predictions (``stats``: AP, AP50, AP75,
  AP_small, AP_medium, AP_large);
* segmentation: IoU per class from the summed per-image areas, their mean (as mmseg computes
  it, in percent, unrounded), and aAcc.

The bootstrap resamples validation images with replacement (the same index sets for every run
of a study, so that differences are paired) and recomputes the metric: COCO AP by pycocotools'
``accumulate`` on the resampled per-image evaluations, mIoU from the resampled areas.
"""
import contextlib
import copy
import io
import os.path as osp
from typing import Dict, List, Optional

import numpy as np

from ..runner import run_files

COCO_STATS = ('bbox_mAP', 'bbox_mAP_50', 'bbox_mAP_75', 'bbox_mAP_s', 'bbox_mAP_m',
              'bbox_mAP_l')


def resample_indices(num_images: int, rounds: int, seed: int = 0) -> np.ndarray:
    """``(rounds, num_images)`` image indices drawn with replacement (fixed by ``seed``)."""
    return np.random.RandomState(seed).randint(0, num_images, size=(rounds, num_images))


class CocoScorer:
    """COCO AP of dumped predictions against one annotation file (loaded once)."""

    def __init__(self, ann_file: str):
        from pycocotools.coco import COCO
        with contextlib.redirect_stdout(io.StringIO()):
            self.gt = COCO(ann_file)
        self.img_ids = sorted(self.gt.getImgIds())

    def _evaluate(self, pred_file: str):
        from pycocotools.cocoeval import COCOeval
        predictions = run_files.read_json(pred_file)
        with contextlib.redirect_stdout(io.StringIO()):
            dt = self.gt.loadRes(predictions) if predictions else None
            if dt is None:
                return None
            ev = COCOeval(self.gt, dt, 'bbox')
            ev.params.imgIds = self.img_ids
            ev.evaluate()
        return ev

    def score(self, pred_file: str, rounds: Optional[np.ndarray] = None) -> dict:
        """``{'coco/bbox_mAP': ..., ...}`` (unrounded) and, with ``rounds``, the bootstrap AP
        values under ``'bootstrap'``."""
        ev = self._evaluate(pred_file)
        if ev is None:  # nothing detected: AP 0
            out = {f'coco/{k}': 0.0 for k in COCO_STATS}
            if rounds is not None:
                out['bootstrap'] = [0.0] * len(rounds)
            return out
        with contextlib.redirect_stdout(io.StringIO()):
            ev.accumulate()
            ev.summarize()
        out = {f'coco/{k}': float(v) for k, v in zip(COCO_STATS, ev.stats[:6])}
        if rounds is not None:
            out['bootstrap'] = [self._resampled_ap(ev, idx) for idx in rounds]
        return out

    @staticmethod
    def _resampled_ap(ev, idx: np.ndarray) -> float:
        """AP@[.5:.95] (all areas, 100 detections) over the images ``idx`` (repeats count
        again): pycocotools' accumulate on re-indexed per-image evaluations."""
        pe = ev._paramsEval
        num_img, num_area = len(pe.imgIds), len(pe.areaRng)
        area = [tuple(a) for a in pe.areaRng].index(tuple(pe.areaRng[0]))
        boot = copy.copy(ev)
        params = copy.deepcopy(ev.params)
        params.imgIds = list(range(len(idx)))
        params.areaRng, params.areaRngLbl, params.maxDets = [pe.areaRng[area]], ['all'], [100]
        boot.params = params
        boot._paramsEval = copy.deepcopy(params)
        boot.evalImgs = [ev.evalImgs[k * num_area * num_img + area * num_img + i]
                         for k in range(len(pe.catIds)) for i in idx]
        with contextlib.redirect_stdout(io.StringIO()):
            boot.accumulate()
        precision = boot.eval['precision'][:, :, :, 0, 0]  # (T, R, K)
        valid = precision[precision > -1]
        return float(valid.mean()) if valid.size else 0.0


def score_iou(npz_file: str, rounds: Optional[np.ndarray] = None) -> dict:
    """``{'mIoU': ..., 'aAcc': ...}`` (percent, unrounded) from per-image areas and, with
    ``rounds``, the bootstrap mIoU values under ``'bootstrap'``."""
    data = np.load(npz_file)
    intersect, union, label = (data['intersect'].astype(np.float64),
                               data['union'].astype(np.float64),
                               data['label'].astype(np.float64))

    def miou(idx=None) -> float:
        i = intersect if idx is None else intersect[idx]
        u = union if idx is None else union[idx]
        with np.errstate(invalid='ignore', divide='ignore'):
            iou = i.sum(0) / u.sum(0)
        return float(np.nanmean(iou) * 100)

    out = dict(mIoU=miou(), aAcc=float(intersect.sum() / label.sum() * 100))
    if rounds is not None:
        out['bootstrap'] = [miou(idx) for idx in rounds]
    return out


def num_images(work_dir: str, step: int) -> Optional[int]:
    """How many validation images a dump holds (for the resampling), or None."""
    prefix = run_files.eval_prefix(work_dir, step)
    if osp.isfile(prefix + '.iou.npz'):
        return int(np.load(prefix + '.iou.npz')['intersect'].shape[0])
    return None


def score_step(work_dir: str, step: int, scorer: Optional[CocoScorer],
               rounds: Optional[np.ndarray] = None) -> Optional[dict]:
    """The exact metrics of the validation at ``step`` (None if it was not dumped)."""
    prefix = run_files.eval_prefix(work_dir, step)
    if osp.isfile(prefix + '.bbox.json') and scorer is not None:
        return scorer.score(prefix + '.bbox.json', rounds)
    if osp.isfile(prefix + '.iou.npz'):
        return score_iou(prefix + '.iou.npz', rounds)
    return None


def bootstrap_summary(values: List[float]) -> Dict[str, float]:
    arr = np.asarray(values, dtype=np.float64)
    return dict(mean=float(arr.mean()), sd=float(arr.std(ddof=1)) if arr.size > 1 else 0.0)
