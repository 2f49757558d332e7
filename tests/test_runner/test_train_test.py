"""tools/train.py, tools/test.py, CPU DDP through tools/dist_train.sh, data errors,
mini datasets."""
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import CONFIGS, DET_CONFIG, ROOT, SEG_CONFIG, run_tool


def _scalars(work_dir: Path):
    entries = []
    for path in sorted(work_dir.glob('*/vis_data/scalars.json')):
        entries += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return entries


# ----------------------------------------------------------------------------- mini datasets


@pytest.mark.slow
def test_train_and_test_mini_detector(det_run, tmp_path):
    work = det_run  # tools/train.py: 3 epochs, validation after each
    assert (work / 'epoch_3.pth').exists() and (work / 'last_checkpoint').exists()
    scalars = _scalars(work)
    train = [e for e in scalars if 'loss' in e]
    assert len(train) == 18 and all(np.isfinite(e['loss']) for e in train)
    assert 'cbam/backbone.layer2.0.cbam/ca_mean' in train[-1]
    assert len([e for e in scalars if 'coco/bbox_mAP' in e]) == 3
    out = tmp_path / 'test'
    proc = run_tool('mm_cbam.test', DET_CONFIG, work / 'epoch_3.pth', '--work-dir', out,
                    '--show-dir', 'shown', '--out', out / 'preds.pkl', '--cfg-options',
                    'test_dataloader.dataset.indices=4', 'model.test_cfg.rcnn.score_thr=0.0')
    assert 'Average Precision' in proc.stdout + proc.stderr  # pycocotools' table
    metrics = json.loads(next(out.glob('*/metrics.json')).read_text())
    assert {'coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/bbox_mAP_75'} <= set(metrics)
    assert 0.0 <= metrics['coco/bbox_mAP'] <= 1.0
    assert len(list(out.glob('*/shown/*.png'))) == 4
    assert (out / 'preds.pkl').stat().st_size > 0


@pytest.mark.slow
def test_train_and_test_mini_segmentor(seg_run, tmp_path):
    work = seg_run  # tools/train.py: 12 iterations, validation every 4
    assert (work / 'iter_12.pth').exists()
    scalars = _scalars(work)
    assert len([e for e in scalars if 'mIoU' in e]) == 3
    assert 'cbam/backbone.layer4.1.cbam/sa_std' in [e for e in scalars if 'loss' in e][-1]
    out = tmp_path / 'test'
    proc = run_tool('mm_cbam.test', SEG_CONFIG, work / 'iter_12.pth', '--work-dir', out,
                    '--show-dir', str(out / 'shown'), '--cfg-options',
                    'test_dataloader.dataset.indices=3')
    assert '|     Class     |  IoU  |  Acc  |' in proc.stdout + proc.stderr
    metrics = json.loads(next(out.glob('*/metrics.json')).read_text())
    assert {'mIoU', 'aAcc', 'mAcc'} <= set(metrics) and 0 <= metrics['mIoU'] <= 100
    assert len(list((out / 'shown').rglob('*.png'))) == 3


@pytest.mark.slow
def test_work_dir_defaults_to_config_name(mini_data):
    from mm_cbam.runner.config import prepare_config
    cfg = prepare_config(str(DET_CONFIG))
    assert cfg.work_dir == os.path.join('./work_dirs', 'faster-rcnn_r18-cbam_fpn_12e_mini-coco')
    cfg = prepare_config(str(DET_CONFIG), cfg_options={'work_dir': '/x'})
    assert cfg.work_dir == '/x'


# ----------------------------------------------------------------------------- data errors


@pytest.mark.slow
def test_missing_real_dataset_fails_before_training(tmp_path):
    config = CONFIGS / 'faster_rcnn' / 'faster-rcnn_r50-cbam_fpn_1x_coco.py'
    proc = run_tool('mm_cbam.train', config, '--work-dir',
                    tmp_path / 'w', '--cfg-options',
                    f'train_dataloader.dataset.data_root={tmp_path}/nowhere/',
                    f'val_dataloader.dataset.data_root={tmp_path}/nowhere/', check=False)
    assert proc.returncode == 2
    assert f'{tmp_path}/nowhere/annotations/instances_train2017.json' in proc.stderr
    assert 'download COCO 2017' in proc.stderr and 'Traceback' not in proc.stderr
    assert not (tmp_path / 'w').exists()  # nothing was built or written


def test_missing_mini_dataset_names_the_generator(tmp_path):
    from mm_cbam.runner.config import prepare_config
    from mm_cbam.runner.file_checks import check_data_paths
    cfg = prepare_config(str(SEG_CONFIG), cfg_options={
        'train_dataloader.dataset.data_root': str(tmp_path / 'mini_cityscapes')})
    with pytest.raises(FileNotFoundError) as info:
        check_data_paths(cfg)
    text = str(info.value)
    assert f'{tmp_path}/mini_cityscapes/leftImg8bit/train' in text
    assert 'python -m mm_cbam.mini_data' in text


def test_cityscapes_hint(tmp_path):
    from mm_cbam.runner.config import prepare_config
    from mm_cbam.runner.file_checks import check_data_paths
    cfg = prepare_config(
        str(CONFIGS / 'pspnet' / 'pspnet_r50-d8-cbam_4xb2-40k_cityscapes-512x1024.py'))
    if (ROOT / 'data' / 'cityscapes').exists():
        pytest.skip('a real Cityscapes copy is present')
    with pytest.raises(FileNotFoundError, match='data/cityscapes/leftImg8bit/train'):
        check_data_paths(cfg)


# ----------------------------------------------------------------------------- distributed


def test_launcher_environment_for_slurm(monkeypatch):
    from mm_cbam.runner.launch import _launcher_env
    monkeypatch.setattr(os, 'environ', dict(os.environ))  # nothing leaks into later tests
    for key in ('MASTER_ADDR', 'MASTER_PORT', 'RANK', 'WORLD_SIZE', 'LOCAL_RANK'):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv('SLURM_PROCID', '3')
    monkeypatch.setenv('SLURM_NTASKS', '8')
    monkeypatch.setenv('SLURM_LOCALID', '1')
    monkeypatch.setenv('SLURM_NODELIST', 'node[01-02]')
    monkeypatch.setenv('PATH', '/nonexistent')  # no scontrol: falls back to localhost
    _launcher_env('slurm')
    ranks = (os.environ['RANK'], os.environ['WORLD_SIZE'], os.environ['LOCAL_RANK'])
    assert ranks == ('3', '8', '1')
    assert os.environ['MASTER_ADDR'] == '127.0.0.1' and os.environ['MASTER_PORT'] == '29500'
    with pytest.raises(ValueError, match="launcher must be one of"):
        _launcher_env('horovod')


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the CPU-only message')
def test_amp_without_gpu_fails_before_building(tmp_path):
    proc = run_tool('mm_cbam.train', DET_CONFIG, '--amp', '--work-dir', tmp_path / 'w',
                    check=False)
    assert proc.returncode == 1 and '--amp needs a GPU' in proc.stderr
    assert not (tmp_path / 'w').exists()
