"""Stability telemetry: CBAMStabilityHook (statistics, alarms, gradient norms), alpha warm-up,
the log processor, the visualization hook."""
import math
import uuid
from pathlib import Path

import pytest
import torch

from mm_cbam.engine import AttentionInstabilityError

from conftest import VARIANTS, layer_name as _layer, scalars as _scalars, toy_runner


@pytest.mark.slow
def test_stability_hook_logs_every_variant(variants_run):
    _, work = variants_run
    logs = [e for e in _scalars(work) if 'loss' in e]
    assert len(logs) == 12  # 36 iterations, logged every 3

    def series(layer, stat):
        return [e[f'cbam/{layer}/{stat}'] for e in logs]

    for name in VARIANTS:
        for block in (0, 1):
            layer = _layer(name, block)
            for stat in ('ca_mean', 'ca_std', 'sa_mean', 'sa_std', 'ca_sat_lo', 'ca_sat_hi',
                         'sa_sat_lo', 'sa_sat_hi', 'ca_T', 'sa_T', 'gnorm', 'nonfinite'):
                values = series(layer, stat)
                assert len(values) == 12 and all(math.isfinite(v) for v in values), (layer, stat)
            assert all(0 < v < 1 for v in series(layer, 'ca_mean') + series(layer, 'sa_mean'))
            assert all(0 <= v <= 1 for s in ('ca_sat_lo', 'ca_sat_hi', 'sa_sat_lo', 'sa_sat_hi')
                       for v in series(layer, s))
            assert max(series(layer, 'gnorm')) > 0
            assert set(series(layer, 'nonfinite')) == {0.0}

    classic = _layer('classic')
    assert f'cbam/{classic}/alpha' not in logs[0] and f'cbam/{classic}/router_w0' not in logs[0]
    assert set(series(classic, 'ca_T')) == {1.0}

    residual = _layer('residual')
    alpha = series(residual, 'alpha')
    assert alpha[0] != alpha[-1] and all(0 < a < 1.5 for a in alpha)  # learnable, sane
    for avg, mx in zip(series(residual, 'fusion_avg'), series(residual, 'fusion_max')):
        assert avg + mx == pytest.approx(1.0, abs=1e-6) and 0 < avg < 1

    temperature = _layer('temperature')
    ca_t, sa_t = series(temperature, 'ca_T'), series(temperature, 'sa_T')
    assert ca_t[0] == pytest.approx(1.5, abs=0.05) and sa_t[0] == pytest.approx(0.8, abs=0.05)
    assert ca_t[0] != ca_t[-1] and min(ca_t + sa_t) > 0

    dynamic = _layer('dynamic')
    for e in logs:
        weights = [e[f'cbam/{dynamic}/router_w{k}'] for k in range(3)]
        assert sum(weights) == pytest.approx(1.0, abs=1e-5) and min(weights) > 0
        assert 0 <= e[f'cbam/{dynamic}/router_entropy'] <= math.log(3) + 1e-6


@pytest.mark.slow
def test_telemetry_reaches_text_log_and_tensorboard(variants_run):
    _, work = variants_run
    run_dir = next(p for p in work.iterdir() if p.is_dir())
    text = next(run_dir.glob('*.log')).read_text()
    # the text log carries the summary only; the per-module values go to the backends
    lines = [line for line in text.splitlines() if 'Epoch(train)' in line]
    assert len(lines) == 12 and all(' cbam: sat_max=' in line for line in lines)
    assert 'cbam/backbone' not in text and len(lines[-1]) < 400
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    events = list((run_dir / 'vis_data').glob('events.out.tfevents.*'))
    assert events, 'no TensorBoard event file'
    acc = EventAccumulator(str(events[0].parent))
    acc.Reload()
    tags = acc.Tags()['scalars']
    assert f'cbam/{_layer("dynamic")}/router_entropy' in tags
    alpha = acc.Scalars(f'cbam/{_layer("residual")}/alpha')
    assert len(alpha) == 12 and alpha[-1].step == 36
    # attention overlays of the validation run (CBAMVisualizationHook from the base config)
    images = acc.Tags()['images']
    assert any(t.startswith('cbam_backbone.layer') for t in images)
    pngs = list(run_dir.glob('cbam_attention/iter_36/*.png'))
    assert len(pngs) == 4 * 2  # 4 layers (evenly spaced) x 2 images


def test_hook_is_idle_between_logging_iterations(tmp_path):
    from mmengine.hooks import Hook
    seen = []

    class Probe(Hook):
        priority = 'LOWEST'

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            module = runner.model.net[1]
            optimizer = runner.optim_wrapper.optimizer
            seen.append((runner.iter, module.recording, module.last_maps is not None,
                         len(optimizer._optimizer_step_pre_hooks)))

        def before_train_iter(self, runner, batch_idx, data_batch=None):
            module = runner.model.net[1]
            seen.append((runner.iter, 'before', module.recording))

    from mm_cbam.engine import CBAMStabilityHook
    hook = CBAMStabilityHook(interval=3)
    runner = toy_runner(tmp_path, [dict(type='CBAM', reduction=2)], hooks=[hook, Probe()],
                        max_iters=6, logger_interval=3, experiment_name=uuid.uuid4().hex)
    runner.train()
    before = {it: rec for it, tag, rec in (s for s in seen if s[1] == 'before')}
    assert before == {0: False, 1: False, 2: True, 3: False, 4: False, 5: True}
    after = [s for s in seen if s[1] != 'before']
    # after the stability hook ran: nothing recorded, no optimizer hook left
    assert all(rec is False and not has_maps and hooks == 0 for _, rec, has_maps, hooks in after)
    assert set(hook.last_stats['net.1']) >= {'ca_mean', 'sa_std', 'gnorm', 'nonfinite'}


class _Corrupt:
    """A hook that breaks a module at a given iteration."""

    def __new__(cls, at_iter, action):
        from mmengine.hooks import Hook

        class Corrupt(Hook):
            priority = 'HIGHEST'

            def before_train_iter(self, runner, batch_idx, data_batch=None):
                if runner.iter == at_iter:
                    action(runner.model)

        return Corrupt()


def _nan_weight(model):
    with torch.no_grad():
        model.net[3].sa.branches[0].weight.fill_(float('nan'))


def _log_text(work: Path) -> str:
    return '\n'.join(p.read_text() for p in work.glob('*/*.log'))


def test_nonfinite_alarm_warns_naming_the_layer(tmp_path):
    from mm_cbam.engine import CBAMStabilityHook
    runner = toy_runner(tmp_path, [dict(type='CBAM'), dict(type='CBAM')],
                        hooks=[CBAMStabilityHook(interval=2), _Corrupt(3, _nan_weight)],
                        max_iters=6, experiment_name=uuid.uuid4().hex)
    runner.train()
    text = _log_text(tmp_path)
    assert 'CBAM stability alarm at iteration 2' not in text  # the logging iteration before
    alarm = next(line for line in text.splitlines() if 'CBAM stability alarm' in line)
    assert 'iteration 4:' in alarm and 'net.3: non-finite values' in alarm
    assert runner.iter == 6  # warning only: training went on


def test_nonfinite_alarm_can_stop_training(tmp_path):
    from mm_cbam.engine import CBAMStabilityHook
    runner = toy_runner(tmp_path, [dict(type='CBAM'), dict(type='CBAM')],
                        hooks=[CBAMStabilityHook(interval=2, stop_on_alarm=True),
                               _Corrupt(3, _nan_weight)], max_iters=8,
                        experiment_name=uuid.uuid4().hex)
    with pytest.raises(AttentionInstabilityError, match=r'iteration 4: .*net\.3: non-finite'):
        runner.train()
    assert runner.iter == 3  # stopped at the first logging iteration after the corruption


def test_mask_collapse_alarm_after_patience(tmp_path):
    from mm_cbam.engine import CBAMStabilityHook

    # a tiny temperature saturates every spatial mask value at 0 or 1
    sharp = dict(type='CBAM', sa_temperature=1e-4)
    runner = toy_runner(tmp_path, [dict(type='CBAM'), sharp],
                        hooks=[CBAMStabilityHook(interval=1, collapse_threshold=0.9,
                                                 collapse_patience=3)],
                        max_iters=5, lr=0.0, experiment_name=uuid.uuid4().hex)
    runner.train()
    text = _log_text(tmp_path)
    assert 'iteration 1: net.3' not in text and 'iteration 2: net.3' not in text
    assert 'CBAM stability alarm at iteration 3: net.3: attention mask collapsed' in text
    assert 'net.1: attention mask collapsed' not in text
    runner = toy_runner(tmp_path / 'stop', [sharp], hooks=[
        CBAMStabilityHook(interval=1, collapse_patience=2, stop_on_alarm=True)
    ], max_iters=5, lr=0.0, experiment_name=uuid.uuid4().hex)
    with pytest.raises(AttentionInstabilityError, match='net.1: attention mask collapsed'):
        runner.train()


def test_hook_argument_validation():
    from mm_cbam.engine import CBAMAlphaWarmupHook, CBAMStabilityHook
    with pytest.raises(ValueError, match='interval must be a positive integer'):
        CBAMStabilityHook(interval=0)
    with pytest.raises(ValueError, match='collapse_threshold'):
        CBAMStabilityHook(collapse_threshold=1.5)
    with pytest.raises(ValueError, match='iters must be an integer >= 1'):
        CBAMAlphaWarmupHook(iters=0)


@pytest.mark.parametrize('learnable', [False, True])
def test_alpha_warmup(tmp_path, learnable):
    from mmengine.hooks import Hook

    from mm_cbam.engine import CBAMAlphaWarmupHook, CBAMStabilityHook
    seen = []

    class Probe(Hook):
        priority = 'NORMAL'

        def before_train_iter(self, runner, batch_idx, data_batch=None):
            seen.append(round(float(runner.model.net[1].alpha), 6))

    cbam = dict(type='CBAM', residual=True, alpha_init=0.8, learnable_alpha=learnable)
    runner = toy_runner(tmp_path, [cbam], hooks=[
        CBAMAlphaWarmupHook(iters=4, start=0.0), CBAMStabilityHook(interval=1), Probe()
    ], max_iters=8, experiment_name=uuid.uuid4().hex)
    runner.train()
    assert seen[:5] == [0.0, 0.2, 0.4, 0.6, 0.8]
    if learnable:
        assert seen[5] != 0.8  # free after the warm-up
    else:
        assert seen[5:] == [0.8] * 3
    logged = [e for e in _scalars(tmp_path) if 'cbam_warmup/alpha' in e]
    assert [round(e['cbam_warmup/alpha'], 6) for e in logged][:5] == [0.0, 0.2, 0.4, 0.6, 0.8]
    with pytest.raises(ValueError, match='needs CBAM modules with residual=True'):
        toy_runner(tmp_path / 'x', [dict(type='CBAM')], hooks=[CBAMAlphaWarmupHook(iters=2)],
                   experiment_name=uuid.uuid4().hex).train()


@pytest.mark.slow
def test_summary_aggregates_the_per_module_statistics(variants_run):
    _, work = variants_run
    for entry in [e for e in _scalars(work) if 'loss' in e]:
        per_module = {}
        for key, value in entry.items():
            if key.startswith('cbam/'):
                layer, stat = key[len('cbam/'):].rsplit('/', 1)
                per_module.setdefault(layer, {})[stat] = value
        sat = max(max(s['ca_sat_lo'] + s['ca_sat_hi'], s['sa_sat_lo'] + s['sa_sat_hi'])
                  for s in per_module.values())
        alphas = [s['alpha'] for s in per_module.values() if 'alpha' in s]
        assert entry['cbam_summary/sat_max'] == pytest.approx(sat)
        assert entry['cbam_summary/alpha_min'] == pytest.approx(min(alphas))
        assert entry['cbam_summary/alpha_max'] == pytest.approx(max(alphas))
        assert entry['cbam_summary/gnorm_max'] == pytest.approx(
            max(s['gnorm'] for s in per_module.values()))
        assert entry['cbam_summary/alarms'] == 0 and entry['cbam_summary/nonfinite'] == 0


@pytest.mark.parametrize('mode', ['full', 'off', 'summary'])
def test_log_processor_modes(tmp_path, mode):
    from mm_cbam.engine import CBAMStabilityHook
    runner = toy_runner(tmp_path, [dict(type='CBAM', residual=True, learnable_alpha=True)],
                        hooks=[CBAMStabilityHook(interval=2)], max_iters=4, logger_interval=2,
                        experiment_name=uuid.uuid4().hex,
                        log_processor=dict(type='CBAMLogProcessor', attention_log=mode,
                                           by_epoch=False, window_size=1))
    runner.train()
    lines = [x for x in _log_text(tmp_path).splitlines() if 'Iter(train)' in x]
    assert len(lines) == 2 and all('loss:' in x for x in lines)
    assert all(('cbam/net.1/alpha:' in x) == (mode == 'full') for x in lines)
    assert all(('cbam: sat_max=' in x) == (mode == 'summary') for x in lines)
    assert all('alpha=[' in x for x in lines) == (mode == 'summary')
    entry = [e for e in _scalars(tmp_path) if 'loss' in e][-1]
    assert 'cbam/net.1/alpha' in entry and 'cbam_summary/alarms' in entry  # always recorded
    with pytest.raises(ValueError, match="attention_log='short' is not supported"):
        from mm_cbam.engine import CBAMLogProcessor
        CBAMLogProcessor(attention_log='short')


def _grad_probe(module):
    """Norm of the gradients backward produced for ``module`` (tensor hooks: before clipping)."""
    seen = {}

    def hook(name):
        def fn(grad):
            seen[name] = grad.detach().float().norm()
            return grad
        return fn

    handles = [p.register_hook(hook(n)) for n, p in module.named_parameters()]
    return seen, handles


def test_gnorm_is_measured_before_gradient_clipping(tmp_path):
    from mmengine.hooks import Hook

    from mm_cbam.engine import CBAMStabilityHook
    norms = []

    class Probe(Hook):
        priority = 'HIGHEST'

        def before_train_iter(self, runner, batch_idx, data_batch=None):
            self.seen, self.handles = _grad_probe(runner.model.net[1])

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            norms.append(float(torch.linalg.vector_norm(torch.stack(list(self.seen.values())))))
            for h in self.handles:
                h.remove()

    runner = toy_runner(tmp_path, [dict(type='CBAM')], hooks=[CBAMStabilityHook(interval=1),
                                                              Probe()],
                        max_iters=3, experiment_name=uuid.uuid4().hex,
                        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.05),
                                           clip_grad=dict(max_norm=1e-6)))
    runner.train()
    logged = [e['cbam/net.1/gnorm'] for e in _scalars(tmp_path) if 'loss' in e]
    assert logged == pytest.approx(norms, rel=1e-5)
    assert min(logged) > 1e-4  # far above the clipped norm (1e-6)


def test_gnorm_and_skipped_flag_on_a_skipped_amp_step(tmp_path, monkeypatch):
    from mmengine.hooks import Hook
    from mmengine.optim.optimizer import amp_optimizer_wrapper

    from mm_cbam.engine import CBAMStabilityHook
    monkeypatch.setattr(amp_optimizer_wrapper, 'is_cuda_available', lambda: True)
    scales, raw = [], []

    class CpuScalerAndInf(Hook):
        priority = 'HIGHEST'

        def before_train(self, runner):
            runner.optim_wrapper.loss_scaler = torch.amp.GradScaler('cpu', init_scale=1024.0)

        def before_train_iter(self, runner, batch_idx, data_batch=None):
            scales.append(runner.optim_wrapper.loss_scaler.get_scale())
            self.seen, self.handles = _grad_probe(runner.model.net[1])  # scaled gradients
            w = runner.model.net[1].sa.branches[0].weight
            self.handles.append(w.register_hook(
                lambda g: g * float('inf') if runner.iter == 2 else g))

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            raw.append(float(torch.linalg.vector_norm(torch.stack(list(self.seen.values())))))
            for h in self.handles:
                h.remove()

    runner = toy_runner(tmp_path, [dict(type='CBAM')], hooks=[CBAMStabilityHook(interval=1),
                                                              CpuScalerAndInf()],
                        max_iters=4, experiment_name=uuid.uuid4().hex,
                        optim_wrapper=dict(type='AmpOptimWrapper', dtype='bfloat16',
                                           optimizer=dict(type='SGD', lr=0.01)))
    runner.train()
    logs = [e for e in _scalars(tmp_path) if 'loss' in e]
    assert [e['cbam_summary/step_skipped'] for e in logs] == [0.0, 0.0, 1.0, 0.0]
    assert scales[3] == scales[2] / 2  # the scaler skipped the step of iteration 3
    gnorm = [e['cbam/net.1/gnorm'] for e in logs]
    assert not math.isfinite(gnorm[2])  # logged on the skipped step too
    for i in (0, 1, 3):  # the unscaled norm: the raw (scaled) gradients divided by the scale
        assert gnorm[i] == pytest.approx(raw[i] / scales[i], rel=1e-4)


def test_visualization_hook_draws_on_rank_0_only(tmp_path):
    from types import SimpleNamespace

    from mm_cbam.attention import CBAM
    from mm_cbam.engine import CBAMVisualizationHook
    model = torch.nn.Sequential(CBAM(8))
    for rank, expected in ((0, ['0']), (1, [])):
        hook = CBAMVisualizationHook()
        hook.before_run(SimpleNamespace(rank=rank, model=model))
        assert list(hook._chosen) == expected
        hook.before_val_epoch(SimpleNamespace(rank=rank))
        assert hook._active == bool(expected)  # other ranks record and write nothing
