"""Exact resume in the settings people train with (validation between checkpoints, iteration-based
segmentors, 2-process DDP), corrupt checkpoints, atomic saves, unreadable annotation files."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import DET_CONFIG, DET_OPTS, ROOT, SEG_CONFIG, SEG_OPTS, run_tool


def losses_by_run(work: Path):
    """``[{iter: loss}, ...]`` per run directory (timestamp) of a work dir, oldest first."""
    runs = []
    for path in sorted(work.glob('*/vis_data/scalars.json')):
        entries = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
        runs.append({e['iter']: e['loss'] for e in entries if 'loss' in e})
    return runs


def kill_after(command, work: Path, checkpoint: str, env=None):
    """Start ``command``, SIGKILL it and every process it started (torchrun's workers live in
    their own sessions) once ``checkpoint`` is named by ``last_checkpoint`` (a crash: no
    clean-up of any kind)."""
    import psutil
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env)
    marker, deadline = work / 'last_checkpoint', time.time() + 600
    while not (marker.exists() and marker.read_text().strip().endswith(checkpoint)):
        assert proc.poll() is None, 'training ended before it could be killed'
        assert time.time() < deadline
        time.sleep(0.02)
    family = psutil.Process(proc.pid).children(recursive=True) + [psutil.Process(proc.pid)]
    for p in family:
        try:
            p.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
    proc.wait()
    psutil.wait_procs(family, timeout=30)
    assert marker.read_text().strip().endswith(checkpoint), 'killed too late'
    return torch.load(marker.read_text().strip())['meta']['iter']


def assert_same_losses(resumed: dict, reference: dict, first: int, last: int):
    assert sorted(resumed) == list(range(first, last + 1))
    for it, loss in resumed.items():
        assert loss == pytest.approx(reference[it], rel=1e-6, abs=1e-7), it


@pytest.fixture(scope='module')
def det_reference(det_run):
    """The uninterrupted mini detector run (validation every epoch) and its losses."""
    (reference, ) = losses_by_run(det_run)
    assert sorted(reference) == list(range(1, 19))
    return det_run, reference


@pytest.mark.slow
def test_detector_resume_with_validation_every_epoch(det_reference, tmp_path):
    _, reference = det_reference
    work = tmp_path / 'killed'
    ckpt_iter = kill_after([sys.executable, '-m', 'mm_cbam.train', str(DET_CONFIG), '--work-dir',
                            str(work), '--cfg-options', *DET_OPTS], work, 'epoch_2.pth')
    assert ckpt_iter == 12  # killed during the validation or the third epoch
    run_tool('mm_cbam.train', DET_CONFIG, '--work-dir', work, '--resume', '--cfg-options',
             *DET_OPTS)
    assert_same_losses(losses_by_run(work)[-1], reference, 13, 18)


@pytest.mark.slow
def test_segmentor_resume_with_iteration_validation(seg_run, tmp_path):
    (reference, ) = losses_by_run(seg_run)
    work = tmp_path / 'killed'
    ckpt_iter = kill_after([sys.executable, '-m', 'mm_cbam.train', str(SEG_CONFIG), '--work-dir',
                            str(work), '--cfg-options', *SEG_OPTS], work, 'iter_8.pth')
    assert ckpt_iter == 8
    run_tool('mm_cbam.train', SEG_CONFIG, '--work-dir', work, '--resume', '--cfg-options',
             *SEG_OPTS)
    assert_same_losses(losses_by_run(work)[-1], reference, 9, 12)


@pytest.mark.slow
def test_two_process_ddp_trains_tests_and_resumes_exactly(mini_data, tmp_path):
    """CPU DDP through tools/dist_train.sh: both ranks end with the same parameters, rank 0
    alone writes checkpoints and logs, the checkpoint holds both ranks' random states, a run
    killed after the first epoch and resumed repeats the uninterrupted losses; then a
    distributed test through tools/dist_test.sh."""
    config = tmp_path / 'ddp_config.py'
    config.write_text(
        f"_base_ = '{DET_CONFIG}'\n"
        "custom_imports = dict(imports=['mm_cbam', 'mm_cbam_test_probes'],"
        " allow_failed_imports=False)\n"
        "custom_hooks = [dict(type='CBAMStabilityHook'), dict(type='RNGStateHook'), "
        "dict(type='DumpRankParamsHook')]\n")
    env = dict(os.environ, PORT='29641', PYTHON=sys.executable,
               PYTHONPATH=str(ROOT / 'tests'))  # for mm_cbam_test_probes

    def dist(work, *extra):
        return ['bash', 'tools/dist_train.sh', str(config), '2', '--work-dir', str(work),
                *extra, '--cfg-options', *DET_OPTS, 'train_cfg.max_epochs=2']

    straight = tmp_path / 'straight'
    proc = subprocess.run(dist(straight), cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    assert "dist_cfg: {'backend': 'gloo'}" in out and 'Distributed training: True' in out
    p0 = torch.load(straight / 'rank0_params.pth')
    p1 = torch.load(straight / 'rank1_params.pth')
    assert p0.keys() == p1.keys() and all(torch.equal(p0[k], p1[k]) for k in p0)
    start = torch.load(straight / 'epoch_1.pth')['state_dict']
    assert any(not torch.equal(start[k], p0[k]) for k in p0 if '.cbam.' in k)  # it trained
    # one set of checkpoints and logs (rank 0 writes), 2 ranks x batch 4 share 24 images
    assert sorted(p.name for p in straight.glob('epoch_*.pth')) == ['epoch_1.pth', 'epoch_2.pth']
    runs = [p for p in straight.iterdir() if p.is_dir()]
    assert len(runs) == 1 and len(list(runs[0].glob('*.log'))) == 1
    (reference, ) = losses_by_run(straight)
    assert sorted(reference) == list(range(1, 7))
    logged = [json.loads(x) for x in next(straight.glob('*/vis_data/scalars.json'))
              .read_text().splitlines() if 'loss' in x]
    assert all('cbam/backbone.layer4.1.cbam/sa_mean' in e for e in logged)  # hook under DDP
    # the checkpoint holds the random states of both ranks, which differ
    state = torch.load(straight / 'epoch_1.pth', weights_only=False)['rng_state']
    assert len(state['ranks']) == 2
    assert not torch.equal(state['ranks'][0]['torch'], state['ranks'][1]['torch'])

    work = tmp_path / 'killed'
    assert kill_after(dist(work), work, 'epoch_1.pth', env=env) == 3
    proc = subprocess.run(dist(work, '--resume'), cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert_same_losses(losses_by_run(work)[-1], reference, 4, 6)

    # distributed evaluation of the checkpoint (the test set is split across the 2 processes)
    proc = subprocess.run(
        ['bash', 'tools/dist_test.sh', str(DET_CONFIG), str(straight / 'epoch_2.pth'), '2',
         '--work-dir', str(tmp_path / 'ddp_test'), '--cfg-options',
         'test_dataloader.dataset.indices=8', 'model.test_cfg.rcnn.score_thr=0.0'],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    metrics = json.loads(next((tmp_path / 'ddp_test').glob('*/metrics.json')).read_text())
    assert 'coco/bbox_mAP' in metrics


@pytest.mark.slow
def test_truncated_last_checkpoint_falls_back_to_the_previous_one(det_reference, tmp_path):
    straight, reference = det_reference
    work = tmp_path / 'work'
    work.mkdir()
    for name in ('epoch_1.pth', 'epoch_2.pth'):
        shutil.copy(straight / name, work / name)
    (work / 'last_checkpoint').write_text(str(work / 'epoch_2.pth'))
    data = (work / 'epoch_2.pth').read_bytes()
    (work / 'epoch_2.pth').write_bytes(data[:len(data) // 2])  # a crash in the middle of a save
    proc = run_tool('mm_cbam.train', DET_CONFIG, '--work-dir', work, '--resume',
                    '--cfg-options', *DET_OPTS)
    text = proc.stdout + proc.stderr
    assert 'skipped unusable checkpoint' in text and 'epoch_2.pth (truncated' in text
    assert f'resuming from {work / "epoch_1.pth"}' in text
    assert_same_losses(losses_by_run(work)[-1], reference, 7, 18)


@pytest.mark.slow
def test_resume_with_an_unreadable_named_checkpoint_is_an_error(tmp_path):
    bad = tmp_path / 'epoch_3.pth'
    bad.write_bytes(b'not a checkpoint')
    proc = run_tool('mm_cbam.train', DET_CONFIG, '--work-dir', tmp_path / 'w', '--resume', bad,
                    check=False)
    assert proc.returncode == 2 and f'--resume checkpoint {bad} cannot be loaded' in proc.stderr
    assert 'Traceback' not in proc.stderr


def test_checkpoint_files_are_replaced_atomically(tmp_path, monkeypatch):
    from mmengine.fileio.backends.local_backend import LocalBackend

    import mm_cbam  # noqa: F401  (applies the fix)
    target = tmp_path / 'epoch_1.pth'
    LocalBackend().put(b'complete old checkpoint', target)

    def crash(fd):
        raise OSError('disk gone in the middle of the save')

    monkeypatch.setattr(os, 'fsync', crash)
    with pytest.raises(OSError, match='disk gone'):
        LocalBackend().put(b'x' * 1000, target)
    assert target.read_bytes() == b'complete old checkpoint'
    assert [p.name for p in tmp_path.iterdir()] == ['epoch_1.pth']  # no temporary file left


@pytest.mark.slow
def test_unreadable_annotation_file_is_named(mini_data, tmp_path):
    src = mini_data / 'mini_coco' / 'annotations' / 'instances_train.json'
    broken = tmp_path / 'instances_train.json'
    broken.write_text(src.read_text()[:5000])
    proc = run_tool('mm_cbam.train', DET_CONFIG, '--work-dir', tmp_path / 'w', '--cfg-options',
                    f'train_dataloader.dataset.ann_file={broken}', check=False)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert f'annotation file {broken} cannot be read' in proc.stderr
    assert 'Expecting' in proc.stderr or 'Unterminated' in proc.stderr  # the parser's message
