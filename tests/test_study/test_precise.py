"""Exact metrics and the image bootstrap against the reference implementations: pycocotools'
own COCOeval summary, mmseg's IoUMetric."""
import json

import numpy as np
import pytest
import torch

from mm_cbam.study.precise import CocoScorer, resample_indices, score_iou


def _predictions(gt_file, path, jitter=2.0, seed=0):
    """Detections near the ground truth (with misses and false positives), as mmdet dumps."""
    data = json.loads(open(gt_file).read())
    rng = np.random.RandomState(seed)
    dets = []
    for ann in data['annotations']:
        if rng.rand() < 0.2:
            continue
        x, y, w, h = ann['bbox']
        dets.append(dict(image_id=ann['image_id'], category_id=ann['category_id'],
                         bbox=[x + rng.randn() * jitter, y + rng.randn() * jitter, w, h],
                         score=float(rng.rand())))
        dets.append(dict(image_id=ann['image_id'], category_id=1,
                         bbox=[rng.rand() * 100, rng.rand() * 100, 20, 20],
                         score=float(rng.rand() * 0.5)))
    path.write_text(json.dumps(dets))
    return path


@pytest.mark.slow
def test_coco_scores_are_cocoevals_and_the_identity_resample_reproduces_them(
        mini_data, tmp_path):
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    gt_file = mini_data / 'mini_coco' / 'annotations' / 'instances_val.json'
    preds = _predictions(gt_file, tmp_path / 'p.bbox.json')
    scorer = CocoScorer(str(gt_file))
    n = len(scorer.img_ids)
    rounds = np.vstack([np.arange(n), resample_indices(n, 3)])
    scores = scorer.score(str(preds), rounds)
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(gt_file))
        ev = COCOeval(gt, gt.loadRes(str(preds)), 'bbox')
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    assert scores['coco/bbox_mAP'] == ev.stats[0] and scores['coco/bbox_mAP_l'] == ev.stats[5]
    assert 0.2 < ev.stats[0] < 0.9
    assert scores['bootstrap'][0] == pytest.approx(ev.stats[0], abs=1e-12)  # identity resample
    assert len(set(scores['bootstrap'][1:])) == 3  # other resamples differ


@pytest.mark.slow
def test_resampling_all_images_of_one_kind_matches_cocoeval_on_those_images(
        mini_data, tmp_path):
    """A resample that repeats one image set twice gives the AP of that set (repeats count
    again, both in detections and ground truth)."""
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    gt_file = mini_data / 'mini_coco' / 'annotations' / 'instances_val.json'
    preds = _predictions(gt_file, tmp_path / 'p.bbox.json', seed=3)
    scorer = CocoScorer(str(gt_file))
    half = np.arange(len(scorer.img_ids) // 2)
    boot = scorer.score(str(preds), np.stack([np.concatenate([half, half])]))['bootstrap'][0]
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(gt_file))
        ev = COCOeval(gt, gt.loadRes(str(preds)), 'bbox')
        ev.params.imgIds = [scorer.img_ids[i] for i in half]
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    assert boot == pytest.approx(ev.stats[0], abs=1e-12)


def test_iou_scores_are_mmsegs_iou_metric_unrounded(tmp_path):
    from mmseg.evaluation import IoUMetric
    rng = np.random.RandomState(0)
    classes = 5
    results = []
    for _ in range(6):
        pred = torch.from_numpy(rng.randint(0, classes, (32, 32)))
        label = torch.from_numpy(rng.randint(0, classes, (32, 32)))
        label[:4] = 255
        results.append(IoUMetric.intersect_and_union(pred, label, classes, 255))
    metric = IoUMetric()
    metric.dataset_meta = dict(classes=[f'c{i}' for i in range(classes)])
    expected = metric.compute_metrics(list(results))
    areas = [np.stack([r[i].numpy() for r in results]) for i in range(4)]
    np.savez(tmp_path / 'iter_3.iou.npz', intersect=areas[0], union=areas[1], pred=areas[2],
             label=areas[3])
    ours = score_iou(str(tmp_path / 'iter_3.iou.npz'), np.stack([np.arange(6)]))
    assert round(ours['mIoU'], 2) == expected['mIoU'] and round(ours['aAcc'], 2) == \
        expected['aAcc']
    assert ours['bootstrap'][0] == ours['mIoU']
