"""A diverged run keeps its last good checkpoint and stops by default; a damaged checkpoint is
not resumed (issue: data loss and silent corruption)."""
import uuid

import pytest
import torch

import mm_cbam  # noqa: F401
from mm_cbam.checkpoint.integrity import resolve_resume
from mm_cbam.engine.hooks import NonFiniteLossError

from conftest import DET_CONFIG, SMALL_DET, last_line, run_tool, toy_runner

CBAM = dict(type='CBAM', reduction=2)


def _diverging_runner(work, hooks, max_keep=2, max_iters=8):
    """The toy model, a checkpoint every iteration; the learning rate jumps to 1e12 after
    iteration 3, so the weights go non-finite a few iterations later."""
    runner = toy_runner(
        work, [CBAM], hooks=hooks, max_iters=max_iters, lr=0.01,
        experiment_name=uuid.uuid4().hex,
        param_scheduler=[dict(type='MultiStepLR', by_epoch=False, milestones=[3], gamma=1e14)])
    ckpt = runner.hooks[[type(h).__name__ for h in runner.hooks].index('CheckpointHook')]
    runner._hooks.remove(ckpt)
    runner.register_hook(dict(type='FiniteCheckpointHook', interval=1, by_epoch=False,
                              max_keep_ckpts=max_keep), priority='VERY_LOW')
    return runner


def test_diverged_run_keeps_its_last_finite_checkpoint(tmp_path):
    runner = _diverging_runner(tmp_path, [dict(type='NonFiniteStopHook', stop=False)])
    runner.train()
    names = sorted(p.name for p in tmp_path.glob('*.pth'))
    finite = [n for n in names if 'nonfinite' not in n]
    diverged = [n for n in names if 'nonfinite' in n]
    # rotation kept max_keep_ckpts finite checkpoints; only the latest diverged one is kept
    assert len(finite) == 2 and diverged == ['iter_8_nonfinite.pth'], names
    last_good = tmp_path / finite[-1]
    loaded = torch.load(last_good)
    assert all(torch.isfinite(v).all() for v in loaded['state_dict'].values())
    assert not all(torch.isfinite(v).all()
                   for v in torch.load(tmp_path / diverged[0])['state_dict'].values())
    assert (tmp_path / 'last_checkpoint').read_text().strip() == str(last_good)
    assert resolve_resume(str(tmp_path)) == str(last_good)
    log = (next(tmp_path.glob('*/*.log'))).read_text()
    assert f'the last good checkpoint is {last_good}' in log
    assert 'this run diverged' in log


def test_resume_never_picks_a_nonfinite_checkpoint(tmp_path):
    runner = _diverging_runner(tmp_path, [dict(type='NonFiniteStopHook', stop=False)])
    runner.train()
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_8_nonfinite.pth'))
    with pytest.warns(UserWarning, match='iter_8_nonfinite.pth \\(its weights are not finite'):
        chosen = resolve_resume(str(tmp_path))
    assert 'nonfinite' not in chosen


def test_non_finite_loss_stops_the_run_by_default(tmp_path):
    runner = _diverging_runner(tmp_path, [dict(type='NonFiniteStopHook')], max_iters=30)
    with pytest.raises(NonFiniteLossError) as err:
        runner.train()
    message = str(err.value)
    assert '\n' not in message and 'non-finite loss (' in message
    stopped_at = int(message.split('at iteration ')[1].split(';')[0])
    assert 4 <= stopped_at < 30
    last = (tmp_path / 'last_checkpoint').read_text().strip()
    assert f'the last good checkpoint is {last}' in message
    assert not list(tmp_path.glob('*nonfinite*'))  # it stopped before saving one
    assert f'iter_{stopped_at - 1}.pth' in last


@pytest.mark.slow
def test_train_tool_stops_a_diverging_detector_with_one_line(mini_data, tmp_path):
    """The reported case: the mini detector at a huge learning rate. Epoch 1 trains normally,
    then the rate jumps; the tool stops with one line naming the last good checkpoint."""
    from conftest import SMALL_DET
    proc = run_tool('mm_cbam.train', DET_CONFIG, '--work-dir', tmp_path, '--cfg-options',
                    *SMALL_DET, 'train_cfg.max_epochs=3', 'train_cfg.val_interval=10',
                    'default_hooks.checkpoint.max_keep_ckpts=1',
                    'param_scheduler.0.end=1', 'param_scheduler.1.milestones=[1]',
                    'param_scheduler.1.gamma=1e8', check=False)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 3, proc.stderr[-3000:]
    assert lines[-1].startswith('STOPPED: non-finite loss')
    assert f'the last good checkpoint is {tmp_path / "epoch_1.pth"}' in lines[-1]
    assert (tmp_path / 'epoch_1.pth').exists() and 'Traceback' not in proc.stderr


# ----------------------------------------------------------------------------- damaged files


@pytest.mark.parametrize('hook,option', [('CBAMStabilityHook', 'stop_on_alarm'),
                                         ('CBAMStabilityHook', 'log_grad_norm'),
                                         ('NonFiniteStopHook', 'stop')])
def test_boolean_hook_options_reject_strings(hook, option):
    from mmengine.registry import HOOKS
    with pytest.raises(ValueError, match=f"{option} must be True or False, got 'no'"):
        HOOKS.build({'type': hook, option: 'no'})


@pytest.mark.slow
def test_stability_alarm_stop_is_one_line(mini_data, tmp_path):
    config = tmp_path / 'alarm.py'
    config.write_text(f"_base_ = {str(DET_CONFIG)!r}\ncustom_hooks = [dict(type="
                      "'CBAMStabilityHook', stop_on_alarm=True, collapse_threshold=0.001, "
                      'collapse_patience=1)]\n')
    proc = run_tool('mm_cbam.train', config, '--work-dir', tmp_path / 'w', '--cfg-options',
                    *SMALL_DET, check=False)
    assert proc.returncode == 3 and 'Traceback' not in proc.stderr, proc.stderr[-3000:]
    expected = 'STOPPED: CBAM stability alarm at iteration 2: backbone.layer'
    assert last_line(proc).startswith(expected)
    assert 'Training stopped (stop_on_alarm=True)' in last_line(proc)
