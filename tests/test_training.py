"""tools/train.py, tools/test.py, CPU DDP through tools/dist_train.sh, data errors,
mini datasets."""
import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import DET_CONFIG, ROOT, SEG_CONFIG, run_tool


def _scalars(work_dir: Path):
    entries = []
    for path in sorted(work_dir.glob('*/vis_data/scalars.json')):
        entries += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return entries


# ----------------------------------------------------------------------------- mini datasets


def _tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob('*') if p.is_file()):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def test_mini_data_is_deterministic_and_well_formed(tmp_path):
    from mm_cbam.datasets import generate_mini_cityscapes, generate_mini_coco
    for i in range(2):
        generate_mini_coco(tmp_path / f'coco{i}', 12, 4, seed=3)
        generate_mini_cityscapes(tmp_path / f'city{i}', 4, 2, seed=3)
    assert _tree_digest(tmp_path / 'coco0') == _tree_digest(tmp_path / 'coco1')
    assert _tree_digest(tmp_path / 'city0') == _tree_digest(tmp_path / 'city1')
    generate_mini_coco(tmp_path / 'other', 12, 4, seed=4)
    assert _tree_digest(tmp_path / 'other') != _tree_digest(tmp_path / 'coco0')

    from pycocotools.coco import COCO
    coco = COCO(str(tmp_path / 'coco0' / 'annotations' / 'instances_train.json'))
    assert [c['name'] for c in coco.loadCats(coco.getCatIds())] == ['circle', 'square',
                                                                      'triangle']
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


def test_train_and_test_mini_detector(det_run, tmp_path):
    work = det_run  # tools/train.py: 3 epochs, validation after each
    assert (work / 'epoch_3.pth').exists() and (work / 'last_checkpoint').exists()
    scalars = _scalars(work)
    train = [e for e in scalars if 'loss' in e]
    assert len(train) == 18 and all(np.isfinite(e['loss']) for e in train)
    assert 'cbam/backbone.layer2.0.cbam/ca_mean' in train[-1]
    assert len([e for e in scalars if 'coco/bbox_mAP' in e]) == 3
    out = tmp_path / 'test'
    proc = run_tool('tools/test.py', DET_CONFIG, work / 'epoch_3.pth', '--work-dir', out,
                    '--show-dir', 'shown', '--out', out / 'preds.pkl', '--cfg-options',
                    'test_dataloader.dataset.indices=4', 'model.test_cfg.rcnn.score_thr=0.0')
    assert 'Average Precision' in proc.stdout + proc.stderr  # pycocotools' table
    metrics = json.loads(next(out.glob('*/metrics.json')).read_text())
    assert {'coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/bbox_mAP_75'} <= set(metrics)
    assert 0.0 <= metrics['coco/bbox_mAP'] <= 1.0
    assert len(list(out.glob('*/shown/*.png'))) == 4
    assert (out / 'preds.pkl').stat().st_size > 0


def test_train_and_test_mini_segmentor(seg_run, tmp_path):
    work = seg_run  # tools/train.py: 12 iterations, validation every 4
    assert (work / 'iter_12.pth').exists()
    scalars = _scalars(work)
    assert len([e for e in scalars if 'mIoU' in e]) == 3
    assert 'cbam/backbone.layer4.1.cbam/sa_std' in [e for e in scalars if 'loss' in e][-1]
    out = tmp_path / 'test'
    proc = run_tool('tools/test.py', SEG_CONFIG, work / 'iter_12.pth', '--work-dir', out,
                    '--show-dir', str(out / 'shown'), '--cfg-options',
                    'test_dataloader.dataset.indices=3')
    assert '|     Class     |  IoU  |  Acc  |' in proc.stdout + proc.stderr
    metrics = json.loads(next(out.glob('*/metrics.json')).read_text())
    assert {'mIoU', 'aAcc', 'mAcc'} <= set(metrics) and 0 <= metrics['mIoU'] <= 100
    assert len(list((out / 'shown').rglob('*.png'))) == 3


def test_work_dir_defaults_to_config_name(mini_data):
    from mm_cbam.engine.launch import prepare_config
    cfg = prepare_config(str(DET_CONFIG))
    assert cfg.work_dir == os.path.join('./work_dirs', 'mini_faster_rcnn_r18_cbam')
    cfg = prepare_config(str(DET_CONFIG), cfg_options={'work_dir': '/x'})
    assert cfg.work_dir == '/x'


# ----------------------------------------------------------------------------- data errors


def test_missing_real_dataset_fails_before_training(tmp_path):
    proc = run_tool('tools/train.py', ROOT / 'configs' / 'faster_rcnn_r50_cbam.py', '--work-dir',
                    tmp_path / 'w', '--cfg-options',
                    f'train_dataloader.dataset.data_root={tmp_path}/nowhere/',
                    f'val_dataloader.dataset.data_root={tmp_path}/nowhere/', check=False)
    assert proc.returncode == 2
    assert f'{tmp_path}/nowhere/annotations/instances_train2017.json' in proc.stderr
    assert 'download COCO 2017' in proc.stderr and 'Traceback' not in proc.stderr
    assert not (tmp_path / 'w').exists()  # nothing was built or written


def test_missing_mini_dataset_names_the_generator(tmp_path):
    from mm_cbam.engine.data_checks import check_data_paths
    from mm_cbam.engine.launch import prepare_config
    cfg = prepare_config(str(SEG_CONFIG), cfg_options={
        'train_dataloader.dataset.data_root': str(tmp_path / 'mini_cityscapes')})
    with pytest.raises(FileNotFoundError) as info:
        check_data_paths(cfg)
    text = str(info.value)
    assert f'{tmp_path}/mini_cityscapes/leftImg8bit/train' in text
    assert 'tools/generate_mini_data.py' in text


def test_cityscapes_hint(tmp_path):
    from mm_cbam.engine.data_checks import check_data_paths
    from mm_cbam.engine.launch import prepare_config
    cfg = prepare_config(str(ROOT / 'configs' / 'pspnet_r50_40k_cityscapes_cbam.py'))
    if (ROOT / 'data' / 'cityscapes').exists():
        pytest.skip('a real Cityscapes copy is present')
    with pytest.raises(FileNotFoundError, match='data/cityscapes/leftImg8bit/train'):
        check_data_paths(cfg)


# ----------------------------------------------------------------------------- distributed


def test_launcher_environment_for_slurm(monkeypatch):
    from mm_cbam.engine.launch import _launcher_env
    monkeypatch.setattr(os, 'environ', dict(os.environ))  # nothing leaks into later tests
    for key in ('MASTER_ADDR', 'MASTER_PORT', 'RANK', 'WORLD_SIZE', 'LOCAL_RANK'):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv('SLURM_PROCID', '3')
    monkeypatch.setenv('SLURM_NTASKS', '8')
    monkeypatch.setenv('SLURM_LOCALID', '1')
    monkeypatch.setenv('SLURM_NODELIST', 'node[01-02]')
    monkeypatch.setenv('PATH', '/nonexistent')  # no scontrol: falls back to localhost
    _launcher_env('slurm')
    assert (os.environ['RANK'], os.environ['WORLD_SIZE'], os.environ['LOCAL_RANK']) == ('3', '8',
                                                                                       '1')
    assert os.environ['MASTER_ADDR'] == '127.0.0.1' and os.environ['MASTER_PORT'] == '29500'
    with pytest.raises(ValueError, match="launcher must be one of"):
        _launcher_env('horovod')


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the CPU-only message')
def test_amp_without_gpu_fails_before_building(tmp_path):
    proc = run_tool('tools/train.py', DET_CONFIG, '--amp', '--work-dir', tmp_path / 'w',
                    check=False)
    assert proc.returncode == 1 and '--amp needs a GPU' in proc.stderr
    assert not (tmp_path / 'w').exists()
