"""Folding residual attention with alpha 0: what each kind of config entry allows, and a written
config + checkpoint that load strictly and compute the original outputs."""
import pytest
import torch

import mm_cbam  # noqa: F401
from mm_cbam.attention import attention_modules
from mm_cbam.checkpoint import safe_load
from mm_cbam.deployment.fold import fold, write
from mm_cbam.deployment.fold_config import fold_model_config, origin
from mm_cbam.deployment.loading import DeployError, build_eval_model
from mm_cbam.runner.config import load_config
from mm_cbam.testing import synthetic_batch

from conftest import last_line, run_tool
from deploy_helpers import config_with, randomize_, save_checkpoint, variant_config

ZERO = dict(type='CBAM', residual=True, alpha_init=0.0, learnable_alpha=True)


def _model_with_alphas(config, tmp_path, alphas=None):
    """The model of ``config`` with random weights, every alpha 0 except ``alphas``; saved."""
    model = randomize_(build_eval_model(load_config(str(config))))
    with torch.no_grad():
        for name, module in attention_modules(model):
            module.alpha.fill_((alphas or {}).get(name, 0.0))
    return model, str(save_checkpoint(model, tmp_path / 'source.pth', epoch=3))


def _outputs(model):
    batch = synthetic_batch(model, 'det', batch_size=1, size=(96, 128), seed=5)
    from mm_cbam.analysis.get_flops import proposal_budget
    with torch.no_grad(), proposal_budget(model):
        data = model.data_preprocessor(batch, False)
        out = model(data['inputs'], data['data_samples'], mode='tensor')
    flat = []
    stack = [out]
    while stack:
        item = stack.pop(0)
        stack[:0] = list(item) if isinstance(item, (list, tuple)) else []
        flat += [item] if isinstance(item, torch.Tensor) else []
    return flat


def test_plugin_stages_fold_only_when_every_module_of_the_stage_may_go():
    cfg = dict(type='FasterRCNN', backbone=dict(type='PluginResNet', depth=18, plugins=[
        dict(cfg=dict(ZERO, postfix='_a'), stages=(False, True, True, True),
             position='after_conv2'),
        dict(cfg=dict(type='CBAM', postfix='_b'), stages=None, position='after_conv1')]))
    names = [f'backbone.layer{s}.{b}.cbam_a' for s in (2, 3, 4) for b in (0, 1)]
    assert origin('backbone.layer3.1.cbam_a', cfg) == ('plugin', 0, 2)
    assert origin('backbone.layer1.0.cbam_b', cfg) == ('plugin', 1, 0)
    assert origin('roi_head.cbam', cfg) is None
    candidates = {n: 'alpha = 0' for n in names if n != 'backbone.layer3.1.cbam_a'}
    keep = {'backbone.layer3.1.cbam_a': '|alpha| = 0.2 > 0', 'roi_head.cbam': 'not residual'}
    new, decisions = fold_model_config(cfg, None, candidates, keep)
    assert new['backbone']['plugins'][0]['stages'] == (False, False, True, False)
    assert new['backbone']['plugins'][1] == cfg['backbone']['plugins'][1]
    assert cfg['backbone']['plugins'][0]['stages'] == (False, True, True, True)  # not modified
    assert decisions['backbone.layer3.0.cbam_a'][0] is False
    assert 'backbone.layer3.1.cbam_a in the same stage stays' in decisions[
        'backbone.layer3.0.cbam_a'][1]
    folded = [n for n, (f, _) in decisions.items() if f]
    assert folded == [n for n in candidates if 'layer3' not in n]
    assert 'cannot drop it' in decisions['roi_head.cbam'][1]


@pytest.mark.slow
def test_all_alphas_zero_give_no_attention_keys_and_identical_outputs(tmp_path):
    config = variant_config(tmp_path, 'det', ZERO)
    model, ckpt = _model_with_alphas(config, tmp_path)
    result = fold(load_config(str(config)), ckpt)
    assert all(f for f, _ in result['decisions'].values()) and len(result['decisions']) == 6
    assert result['max_diff'] == 0
    write(result, ckpt, str(tmp_path / 'out.py'), str(tmp_path / 'out.pth'), 0.0)
    written = safe_load(str(tmp_path / 'out.pth'))
    assert not [k for k in written['state_dict'] if 'cbam' in k]
    assert written['meta']['epoch'] == 3 and written['meta']['mm_cbam_fold']['folded']
    folded = build_eval_model(load_config(str(tmp_path / 'out.py')), str(tmp_path / 'out.pth'))
    assert not list(attention_modules(folded))
    for a, b in zip(_outputs(model), _outputs(folded)):
        assert torch.equal(a, b)


@pytest.mark.slow
def test_partial_folds_of_plugins_neck_levels_and_insert_entries(tmp_path):
    identity = "dict(type='CBAM', residual=True, alpha_init=0.0, learnable_alpha=True)"
    config = config_with(tmp_path, variant_config(tmp_path, 'det', ZERO, 'plugins.py'),
                         f"model = dict(type='InsertCBAM', model_type='FasterRCNN', insert=["
                         f"dict(after='backbone.layer1.*.conv1', cbam={identity})], neck=dict("
                         f"type='CBAMNeck', neck_type='FPN', cbam={identity}))")
    kept = {'backbone.layer3.1.cbam': 0.2, 'neck.cbam.levels.1': 0.3,
            'backbone.layer1.1.conv1.cbam': 0.4}
    model, ckpt = _model_with_alphas(config, tmp_path, kept)
    result = fold(load_config(str(config)), ckpt)
    decisions = result['decisions']
    kept_names = sorted(n for n, (f, _) in decisions.items() if not f)
    assert kept_names == sorted(list(kept) + ['backbone.layer3.0.cbam'])
    new = result['cfg'].model
    assert new.backbone.plugins[0]['stages'] == (False, False, True, False)
    assert tuple(new.neck.levels) == (1, ) and new.neck.type == 'CBAMNeck'
    assert new.insert[0]['after'] == ['backbone.layer1.1.conv1'] and new.type == 'InsertCBAM'
    assert result['max_diff'] == 0  # every folded alpha is 0
    write(result, ckpt, str(tmp_path / 'out.py'), str(tmp_path / 'out.pth'), 0.0)
    folded = build_eval_model(load_config(str(tmp_path / 'out.py')), str(tmp_path / 'out.pth'))
    assert sorted(n for n, _ in attention_modules(folded)) == kept_names
    for a, b in zip(_outputs(model), _outputs(folded)):
        assert torch.equal(a, b)


@pytest.mark.slow
def test_threshold_folds_small_alphas_and_the_tool_reports_per_module(tmp_path):
    config = variant_config(tmp_path, 'det', ZERO)
    _, ckpt = _model_with_alphas(config, tmp_path, {'backbone.layer4.0.cbam': 0.05})
    result = fold(load_config(str(config)), ckpt, eps=0.1)
    assert all(f for f, _ in result['decisions'].values())
    assert 0 < result['max_diff'] < float('inf')  # the effect of folding alpha = 0.05
    proc = run_tool('tools/model_converters/fold_cbam.py', config, ckpt, tmp_path / 'o.py',
                    tmp_path / 'o.pth')
    lines = proc.stdout.splitlines()
    assert any(ln.startswith('kept    backbone.layer4.0.cbam  |alpha| = 0.05 > 0') for ln in lines)
    assert any(ln.startswith('kept    backbone.layer4.1.cbam  backbone.layer4.0.cbam in the '
                             'same stage stays') for ln in lines)
    assert any(ln.startswith('folded  backbone.layer2.0.cbam  alpha = 0') for ln in lines)
    assert '4 of 6 attention modules folded' in proc.stdout
    assert 'max |original - folded| over the raw outputs: 0\n' in proc.stdout
    same = run_tool('tools/model_converters/fold_cbam.py', config, ckpt, tmp_path / 'o.py',
                    ckpt, check=False)
    assert same.returncode == 2 and 'OUT_CHECKPOINT' in last_line(same)


def test_non_residual_attention_is_kept(tmp_path):
    from mm_cbam.attention import CBAM
    from mm_cbam.deployment.fold import classify
    net = torch.nn.Sequential(CBAM(8), CBAM(8, residual=True, alpha_init=0.0))
    candidates, keep = classify(net, 0.0)
    assert list(candidates) == ['1']
    assert keep == {'0': 'not residual: its output is the attention itself'}
    with pytest.raises(DeployError, match='>= 0'):
        fold(None, 'unused.pth', eps=-1.0)
