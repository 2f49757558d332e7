"""tools/train.py, tools/test.py, CPU DDP through tools/dist_train.sh, data errors,
mini datasets."""
import hashlib
from pathlib import Path

import numpy as np
import pytest


def _tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob('*') if p.is_file()):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def test_mini_data_is_deterministic_and_well_formed(tmp_path):
    from mm_cbam.mini_data import generate_mini_cityscapes, generate_mini_coco
    for i in range(2):
        generate_mini_coco(tmp_path / f'coco{i}', 12, 4, seed=3)
        generate_mini_cityscapes(tmp_path / f'city{i}', 4, 2, seed=3)
    assert _tree_digest(tmp_path / 'coco0') == _tree_digest(tmp_path / 'coco1')
    assert _tree_digest(tmp_path / 'city0') == _tree_digest(tmp_path / 'city1')
    generate_mini_coco(tmp_path / 'other', 12, 4, seed=4)
    assert _tree_digest(tmp_path / 'other') != _tree_digest(tmp_path / 'coco0')

    from pycocotools.coco import COCO
    coco = COCO(str(tmp_path / 'coco0' / 'annotations' / 'instances_train.json'))
    names = [c['name'] for c in coco.loadCats(coco.getCatIds())]
    assert names == ['circle', 'square', 'triangle']
    anns = coco.loadAnns(coco.getAnnIds())
    assert len(anns) >= 12 and {a['category_id'] for a in anns} == {1, 2, 3}
    for ann in anns:
        x, y, w, h = ann['bbox']
        assert w > 0 and h > 0 and x >= 0 and y >= 0 and x + w <= 160 and y + h <= 160
        assert coco.annToMask(ann).sum() > 0 and len(ann['segmentation'][0]) >= 6
    import cv2
    labels = np.unique(np.concatenate([
        np.unique(cv2.imread(str(p), cv2.IMREAD_UNCHANGED))
        for p in (tmp_path / 'city0' / 'gtFine').rglob('*_labelTrainIds.png')
    ]))
    assert set(labels.tolist()) <= {0, 1, 2, 5, 8, 10, 11, 13, 255}
    assert {0, 2, 10, 13} <= set(labels.tolist())


@pytest.mark.slow
def test_mini_sets_load_with_the_real_dataset_classes(mini_data):
    from mmdet.datasets import CocoDataset
    from mmseg.datasets import CityscapesDataset
    det = CocoDataset(data_root=str(mini_data / 'mini_coco'),
                      ann_file='annotations/instances_val.json', data_prefix=dict(img='val/'),
                      metainfo=dict(classes=('circle', 'square', 'triangle')), pipeline=[])
    assert len(det) == 80 and det[0]['instances']
    seg = CityscapesDataset(data_root=str(mini_data / 'mini_cityscapes'),
                            data_prefix=dict(img_path='leftImg8bit/val',
                                             seg_map_path='gtFine/val'), pipeline=[])
    assert len(seg) == 40 and seg[0]['seg_map_path'].endswith('_gtFine_labelTrainIds.png')


# ----------------------------------------------------------------------------- train / test tools
