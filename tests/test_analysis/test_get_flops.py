"""FLOPs of the attention and of whole models (mmengine.analysis): the attention's count against
a hand calculation, CBAM model minus plain model equals the attention's count, the tool's
output and the cost table's FLOPs column."""
import re

import pytest
import torch
from mmengine.registry import MODELS

import mm_cbam  # noqa: F401
from mm_cbam.analysis.get_flops import analyze, by_stage, config_flops
from mm_cbam.patterns import stage_of
from mm_cbam.runner.config import load_config

from conftest import DET_CONFIG, DET_PLAIN, SEG_CONFIG, run_tool


def hand_flops(b, c, h, w, hidden, kernels=(7, ), router_hidden=None, bn=False, pools=2):
    """One multiply-add = one FLOP, elementwise ops not counted (fvcore's convention):
    the channel MLP on ``pools`` descriptors, one 2 -> 1 convolution per kernel at every pixel,
    the router's two linear layers, the spatial BatchNorm (eval: scale and shift per pixel)."""
    mlp = pools * b * (c * hidden + hidden * c)
    convs = sum(b * h * w * 2 * k * k for k in kernels)
    router = 0 if router_hidden is None else b * (2 * router_hidden
                                                  + router_hidden * len(kernels))
    return mlp + convs + router + (2 * b * h * w if bn else 0)


@pytest.mark.parametrize('cfg,expected', [
    (dict(), hand_flops(2, 64, 20, 24, hidden=4)),
    (dict(sa_kernels=(3, 7, 7), sa_dilations=(1, 1, 2)),
     hand_flops(2, 64, 20, 24, hidden=4, kernels=(3, 7, 7), router_hidden=8)),
    (dict(min_hidden=1, reduction=32, sa_norm_cfg=dict(type='BN')),
     hand_flops(2, 64, 20, 24, hidden=2, bn=True)),
    (dict(ca_pool=('max', )), hand_flops(2, 64, 20, 24, hidden=4, pools=1)),
])
@pytest.mark.parametrize('grad', [True, False])
def test_one_module_matches_the_hand_calculation(cfg, expected, grad):
    module = MODELS.build(dict(type='CBAM', in_channels=64, **cfg)).eval()
    x = torch.randn(2, 64, 20, 24)
    with torch.set_grad_enabled(grad):
        assert analyze(module, (x, )).total() == expected


def test_stage_of_and_by_stage():
    assert stage_of('backbone.layer2.0.cbam') == 'layer2'
    assert stage_of('backbone.layer3.1.conv2.cbam') == 'layer3'
    assert stage_of('backbone.layer3.cbam') == 'layer3:out'  # on the stage's output
    assert stage_of('backbone.stages.2.blocks.4.ffn.layers.cbam') == 'stages.2'  # Swin
    assert stage_of('backbone.stages.1.0.pointwise_conv2.cbam') == 'stages.1'  # ConvNeXt
    assert stage_of('backbone.layers.3.1.0.ffn.layers.cbam') == 'layers.3'  # MiT
    assert stage_of('backbone.stage4.2.blocks.0.cbam') == 'stage4'  # CSPNeXt
    assert stage_of('backbone.s3.1.conv3.cbam') == 's3'  # RegNet
    assert stage_of('backbone.pos3.cbam') == 'backbone'  # not a stage name
    assert stage_of('neck.cbam.levels.3') == 'neck'
    rows = by_stage([('backbone.layer2.0.cbam', 10, 1), ('backbone.layer2.1.cbam', 5, 2),
                     ('backbone.layer3.0.cbam', 7, 3)])
    assert rows == [('layer2', 2, 15, 3), ('layer3', 1, 7, 3)]


@pytest.mark.slow
@pytest.mark.parametrize('config', [DET_CONFIG, SEG_CONFIG])
def test_cbam_model_minus_plain_model_is_the_attention(config):
    from mm_cbam.models.plain import plain_model_config
    cbam = config_flops(load_config(str(config)))
    plain_cfg = load_config(str(config))
    plain_cfg.model = plain_model_config(plain_cfg.model)
    plain = config_flops(plain_cfg)
    attention = sum(f for _, f, _ in cbam['modules'])
    assert len(cbam['modules']) == 6 and not plain['modules']
    assert cbam['flops'] - plain['flops'] == attention > 0
    assert cbam['params'] - plain['params'] == sum(p for _, _, p in cbam['modules'])
    # the first CBAM of stage 2 (64 channels, stride 8) against the hand calculation
    h, w = (-(-s // 8) for s in cbam['shape'])
    first = dict((n, f) for n, f, _ in cbam['modules'])['backbone.layer2.0.cbam']
    assert first == hand_flops(1, 64, h, w, hidden=4)


@pytest.mark.slow
def test_get_flops_tool_reports_attention_per_stage_and_plain_difference():
    proc = run_tool('tools/analysis/get_flops.py', DET_CONFIG, '--plain', '--shape', 128, 160)
    out = proc.stdout
    assert 'input (1, 3, 128, 160)' in out and 'one multiply-add = one FLOP' in out
    assert re.search(r'attention: [\d.]+ KFLOPs .*, 6 modules', out)
    assert [ln.split('|')[1].strip() for ln in out.splitlines() if '| layer' in ln] == [
        'layer2', 'layer3', 'layer4']
    diff, alone = re.search(r'CBAM - plain = (\d+) FLOPs.*attention alone: (\d+) FLOPs',
                            out).groups()
    assert diff == alone


@pytest.mark.slow
def test_cost_table_has_a_flops_column(tmp_path):
    table = tmp_path / 'table.md'
    run_tool('mm_cbam.analysis.benchmark_model', DET_PLAIN, DET_CONFIG, '--rounds', 1,
             '--batch', 1, '--size', 64, 64, '--out', table)
    head, _, plain, cbam = table.read_text().splitlines()
    assert '| FLOPs (G, 1 image) |' in head
    column = head.split('|').index(' FLOPs (G, 1 image) ')
    assert float(plain.split('|')[column]) > 0
    added = re.search(r'\(\+([\d.]+) M\)', cbam.split('|')[column])
    assert added and float(added.group(1)) > 0  # the attention's FLOPs
