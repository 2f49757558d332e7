"""tools/train.py, tools/test.py, CPU DDP through tools/dist_train.sh, kill + resume, data errors,
mini datasets."""
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import DET_CONFIG, ROOT, SEG_CONFIG, SMALL_DET, SMALL_SEG, run_tool


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


def test_train_and_test_mini_detector(mini_data, tmp_path):
    work = tmp_path / 'det'
    run_tool('tools/train.py', DET_CONFIG, '--work-dir', work, '--cfg-options',
             'train_cfg.max_epochs=2', 'train_cfg.val_interval=2', *SMALL_DET)
    assert (work / 'epoch_2.pth').exists() and (work / 'last_checkpoint').exists()
    scalars = _scalars(work)
    train = [e for e in scalars if 'loss' in e]
    assert len(train) == 6 and all(np.isfinite(e['loss']) for e in train)
    assert 'cbam/backbone.layer2.0.cbam/ca_mean' in train[-1]
    assert any('coco/bbox_mAP' in e for e in scalars)
    proc = run_tool('tools/test.py', DET_CONFIG, work / 'epoch_2.pth', '--work-dir', work,
                    '--show-dir', 'shown', '--out', work / 'preds.pkl', '--cfg-options',
                    'test_dataloader.dataset.indices=4', 'model.test_cfg.rcnn.score_thr=0.0')
    assert 'Average Precision' in proc.stdout + proc.stderr  # pycocotools' table
    metrics = json.loads(next(work.glob('*/metrics.json')).read_text())
    assert {'coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/bbox_mAP_75'} <= set(metrics)
    assert 0.0 <= metrics['coco/bbox_mAP'] <= 1.0
    assert len(list(work.glob('*/shown/*.png'))) == 4
    assert (work / 'preds.pkl').stat().st_size > 0


def test_train_and_test_mini_segmentor(mini_data, tmp_path):
    work = tmp_path / 'seg'
    run_tool('tools/train.py', SEG_CONFIG, '--work-dir', work, '--cfg-options',
             'train_cfg.max_iters=6', 'train_cfg.val_interval=6',
             'default_hooks.checkpoint.interval=3', *SMALL_SEG)
    assert (work / 'iter_6.pth').exists()
    scalars = _scalars(work)
    assert any('mIoU' in e for e in scalars)
    assert 'cbam/backbone.layer4.1.cbam/sa_std' in [e for e in scalars if 'loss' in e][-1]
    proc = run_tool('tools/test.py', SEG_CONFIG, work / 'iter_6.pth', '--work-dir', work,
                    '--show-dir', str(work / 'shown'), '--cfg-options',
                    'test_dataloader.dataset.indices=3')
    assert '|     Class     |  IoU  |  Acc  |' in proc.stdout + proc.stderr
    metrics = json.loads(next(work.glob('*/metrics.json')).read_text())
    assert {'mIoU', 'aAcc', 'mAcc'} <= set(metrics) and 0 <= metrics['mIoU'] <= 100
    assert len(list((work / 'shown').rglob('*.png'))) == 3


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
    from mm_cbam.engine.launch import check_data_paths, prepare_config
    cfg = prepare_config(str(SEG_CONFIG), cfg_options={
        'train_dataloader.dataset.data_root': str(tmp_path / 'mini_cityscapes')})
    with pytest.raises(FileNotFoundError) as info:
        check_data_paths(cfg)
    text = str(info.value)
    assert f'{tmp_path}/mini_cityscapes/leftImg8bit/train' in text
    assert 'tools/generate_mini_data.py' in text


def test_cityscapes_hint(tmp_path):
    from mm_cbam.engine.launch import check_data_paths, prepare_config
    cfg = prepare_config(str(ROOT / 'configs' / 'pspnet_r50_40k_cityscapes_cbam.py'))
    if (ROOT / 'data' / 'cityscapes').exists():
        pytest.skip('a real Cityscapes copy is present')
    with pytest.raises(FileNotFoundError, match='data/cityscapes/leftImg8bit/train'):
        check_data_paths(cfg)


# ----------------------------------------------------------------------------- distributed


def test_two_process_ddp_on_cpu(mini_data, tmp_path):
    work = tmp_path / 'ddp'
    config = tmp_path / 'ddp_config.py'
    config.write_text(
        f"_base_ = '{DET_CONFIG}'\n"
        "custom_imports = dict(imports=['mm_cbam', 'mm_cbam_test_probes'],"
        " allow_failed_imports=False)\n"
        "custom_hooks = [dict(type='CBAMStabilityHook'), dict(type='DumpRankParamsHook')]\n")
    env = dict(os.environ, PORT='29637', PYTHON=sys.executable,
               PYTHONPATH=str(ROOT / 'tests'))  # for mm_cbam_test_probes
    proc = subprocess.run(
        ['bash', 'tools/dist_train.sh', str(config), '2', '--work-dir', str(work),
         '--cfg-options', 'train_cfg.max_epochs=2', 'train_cfg.val_interval=2', *SMALL_DET],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    assert "dist_cfg: {'backend': 'gloo'}" in out and 'Distributed training: True' in out
    p0 = torch.load(work / 'rank0_params.pth')
    p1 = torch.load(work / 'rank1_params.pth')
    assert p0.keys() == p1.keys()
    for key in p0:
        assert torch.equal(p0[key], p1[key]), key
    # the ranks trained together: weights moved away from the (shared) initialisation
    start = torch.load(work / 'epoch_1.pth')['state_dict']
    assert any(not torch.equal(start[k], p0[k]) for k in p0 if '.cbam.' in k)
    # one set of checkpoints and logs (rank 0 writes)
    assert sorted(p.name for p in work.glob('*.pth') if p.name.startswith('epoch')) == [
        'epoch_1.pth', 'epoch_2.pth']
    runs = [p for p in work.iterdir() if p.is_dir()]
    assert len(runs) == 1 and len(list(runs[0].glob('*.log'))) == 1
    # 2 processes x batch 4 share the 24 images: 3 iterations per epoch
    assert torch.load(work / 'epoch_2.pth')['meta']['iter'] == 6
    # the stability hook ran under DDP (model unwrapped) and rank 0 wrote its scalars once
    logged = [e for e in _scalars(work) if 'loss' in e]
    assert logged and all('cbam/backbone.layer4.1.cbam/sa_mean' in e for e in logged)
    assert len({e['iter'] for e in logged}) == len(logged)

    # distributed evaluation of the checkpoint (the test set is split across the 2 processes)
    proc = subprocess.run(
        ['bash', 'tools/dist_test.sh', str(DET_CONFIG), str(work / 'epoch_2.pth'), '2',
         '--work-dir', str(tmp_path / 'ddp_test'), '--cfg-options',
         'test_dataloader.dataset.indices=8', 'model.test_cfg.rcnn.score_thr=0.0'],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    metrics = json.loads(next((tmp_path / 'ddp_test').glob('*/metrics.json')).read_text())
    assert 'coco/bbox_mAP' in metrics


def test_launcher_environment_for_slurm(monkeypatch):
    from mm_cbam.engine.launch import _launcher_env
    for key in ('MASTER_ADDR', 'RANK', 'WORLD_SIZE', 'LOCAL_RANK'):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv('SLURM_PROCID', '3')
    monkeypatch.setenv('SLURM_NTASKS', '8')
    monkeypatch.setenv('SLURM_LOCALID', '1')
    monkeypatch.setenv('SLURM_NODELIST', 'node[01-02]')
    monkeypatch.setenv('PATH', '/nonexistent')  # no scontrol: falls back to localhost
    _launcher_env('slurm')
    assert (os.environ['RANK'], os.environ['WORLD_SIZE'], os.environ['LOCAL_RANK']) == ('3', '8',
                                                                                       '1')
    assert os.environ['MASTER_ADDR'] and os.environ['MASTER_PORT'] == '29500'
    with pytest.raises(ValueError, match="launcher must be one of"):
        _launcher_env('horovod')


# ----------------------------------------------------------------------------- kill and resume


def _losses(work: Path):
    return {e['iter']: e['loss'] for e in _scalars(work) if 'loss' in e}


def test_killed_run_resumes_with_the_same_losses(mini_data, tmp_path):
    opts = ['--cfg-options', 'train_cfg.max_epochs=3', 'train_cfg.val_interval=10',
            'randomness.deterministic=True', 'default_hooks.logger.interval=1',
            'train_dataloader.dataset.indices=24', 'train_dataloader.batch_size=4']
    straight = tmp_path / 'straight'
    run_tool('tools/train.py', DET_CONFIG, '--work-dir', straight, *opts)
    reference = _losses(straight)
    assert sorted(reference) == list(range(1, 19))

    killed = tmp_path / 'killed'
    proc = subprocess.Popen([sys.executable, 'tools/train.py', str(DET_CONFIG), '--work-dir',
                             str(killed), *opts], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    while not (killed / 'last_checkpoint').exists():
        assert proc.poll() is None, 'training ended before it could be killed'
        assert time.time() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)  # a crash: no clean-up of any kind
    proc.wait()
    ckpt_iter = torch.load((killed / 'last_checkpoint').read_text().strip())['meta']['iter']
    assert 6 <= ckpt_iter < 18

    run_tool('tools/train.py', DET_CONFIG, '--work-dir', killed, '--resume', *opts)
    runs = sorted(p for p in killed.iterdir() if p.is_dir())
    resumed = {e['iter']: e['loss'] for line in (runs[-1] / 'vis_data' / 'scalars.json')
               .read_text().splitlines() if line.strip() for e in [json.loads(line)]
               if 'loss' in e}
    assert sorted(resumed) == list(range(ckpt_iter + 1, 19))
    for it, loss in resumed.items():
        assert loss == pytest.approx(reference[it], rel=1e-6, abs=1e-7), it


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the CPU-only message')
def test_amp_without_gpu_fails_before_building(tmp_path):
    proc = run_tool('tools/train.py', DET_CONFIG, '--amp', '--work-dir', tmp_path / 'w',
                    check=False)
    assert proc.returncode == 1 and '--amp needs a GPU' in proc.stderr
    assert not (tmp_path / 'w').exists()
