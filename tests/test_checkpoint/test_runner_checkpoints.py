"""Runner checkpoints load under torch>=2.6's weights_only default; package registration."""
import uuid

import pytest
import torch

import mm_cbam  # noqa: F401  (applies mm_cbam.compat)

from conftest import toy_runner

RESIDUAL = dict(type='CBAM', reduction=2, residual=True, learnable_alpha=True, alpha_init=0.5)


def _runner(work_dir, max_iters, resume=False, load_from=None):
    return toy_runner(work_dir, [RESIDUAL], max_iters=max_iters, checkpoint_interval=3,
                      experiment_name=uuid.uuid4().hex, resume=resume, load_from=load_from)


def test_runner_checkpoint_loads_with_weights_only_default(tmp_path):
    runner = _runner(tmp_path, max_iters=3)
    runner.train()
    ckpt = tmp_path / 'iter_3.pth'
    assert ckpt.exists()
    # the default of torch>=2.6 is weights_only=True: must work for a Runner checkpoint
    loaded = torch.load(ckpt, map_location='cpu')
    assert loaded['meta']['iter'] == 3
    assert 'net.1.alpha' in loaded['state_dict']
    hub = loaded['message_hub']['log_scalars']
    assert hub['train/loss'].mean() > 0


@pytest.mark.slow
def test_checkpoint_loads_in_a_fresh_process(tmp_path):
    """No HistoryBuffer exists yet in a new process (its method registry is filled lazily)."""
    import subprocess
    import sys
    _runner(tmp_path, max_iters=3).train()
    code = ('import mm_cbam, sys, torch; ck = torch.load(sys.argv[1]); '
            "print(ck['meta']['iter'], ck['message_hub']['log_scalars']['train/loss'].current())")
    proc = subprocess.run([sys.executable, '-c', code, str(tmp_path / 'iter_3.pth')],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split()[0] == '3' and float(proc.stdout.split()[1]) > 0


def test_resume_continues_from_the_checkpoint(tmp_path):
    _runner(tmp_path, max_iters=3).train()
    saved = torch.load(tmp_path / 'iter_3.pth', map_location='cpu')
    resumed = _runner(tmp_path, max_iters=6, resume=True)
    resumed.train()
    assert resumed.iter == 6
    assert (tmp_path / 'iter_6.pth').exists()
    state = resumed.model.state_dict()
    # training went on from the restored weights, the optimizer momentum was restored too
    assert not torch.equal(state['net.1.alpha'], saved['state_dict']['net.1.alpha'])
    assert resumed.optim_wrapper.optimizer.state_dict()['state']


def test_load_from_runner_checkpoint(tmp_path):
    _runner(tmp_path / 'a', max_iters=3).train()
    runner = _runner(tmp_path / 'b', max_iters=1, load_from=str(tmp_path / 'a' / 'iter_3.pth'))
    runner.train()  # loads the weights before training starts
    assert runner.iter == 1
