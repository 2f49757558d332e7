"""CBAM in mmdet/mmseg ResNets: Bottleneck and BasicBlock plugins, stacked plugins, plain
checkpoints loading with only the attention keys missing."""

import pytest
import torch
import torch.nn as nn

import mm_cbam  # noqa: F401
from mm_cbam.attention import attention_modules
from mm_cbam.runner.config import build_model, load_config

from conftest import det_models, seg_models

PLUGIN = [dict(cfg=dict(type='CBAM'), stages=(False, True, True, True), position='after_conv3')]


# ----------------------------------------------------------------------------- Bottleneck plugins


def test_bottleneck_plugins_in_mmdet_faster_rcnn_from_config(tmp_path):
    cfg_file = tmp_path / 'frcnn.py'
    cfg_file.write_text(
        "_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'\n"
        "custom_imports = dict(imports=['mm_cbam'], allow_failed_imports=False)\n"
        f'model = dict(backbone=dict(init_cfg=None, plugins={PLUGIN!r}))\n')
    model = build_model(load_config(str(cfg_file)))
    names = [n for n, _ in attention_modules(model)]
    assert len(names) == 4 + 6 + 3 and names[0] == 'backbone.layer2.0.cbam'
    assert model.backbone.layer4[2].cbam.in_channels == 2048
    from mm_cbam.testing import synthetic_batch
    data = model.data_preprocessor(synthetic_batch(model, 'det', size=(64, 64)), True)
    losses = model(**data, mode='loss')
    torch.stack([v if isinstance(v, torch.Tensor) else sum(v)
                 for k, v in losses.items() if 'loss' in k]).sum().backward()
    assert model.backbone.layer3[0].cbam.ca.fc1.weight.grad.abs().sum() > 0


def test_bottleneck_plugins_in_mmseg_resnetv1c_segmentor(tmp_path):
    cfg_file = tmp_path / 'psp.py'
    cfg_file.write_text(
        "_base_ = 'mmseg::pspnet/pspnet_r50-d8_4xb2-40k_cityscapes-512x1024.py'\n"
        "custom_imports = dict(imports=['mm_cbam'], allow_failed_imports=False)\n"
        "norm_cfg = dict(type='BN', requires_grad=True)\n"
        f'model = dict(pretrained=None, data_preprocessor=dict(size=(64, 64)), '
        f'backbone=dict(plugins={PLUGIN!r}))\n')
    cfg = load_config(str(cfg_file))
    model = build_model(cfg)
    assert type(model.backbone).__name__ == 'ResNetV1c'
    assert len(list(attention_modules(model))) == 13
    from mmengine.model import revert_sync_batchnorm
    model = revert_sync_batchnorm(model)
    from mm_cbam.testing import synthetic_batch
    data = model.data_preprocessor(synthetic_batch(model, 'seg', size=(64, 64)), True)
    losses = model(**data, mode='loss')
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert model.backbone.layer2[0].cbam.sa.branches[0].weight.grad.abs().sum() > 0


# ----------------------------------------------------------------------------- BasicBlock plugins


@pytest.mark.parametrize('scope,type_,depth', [('det', 'PluginResNet', 18),
                                               ('det', 'PluginResNetV1d', 34),
                                               ('seg', 'PluginResNet', 18),
                                               ('seg', 'PluginResNetV1c', 34)])
def test_basicblock_plugins(scope, type_, depth):
    MODELS = det_models() if scope == 'det' else seg_models()
    plugins = [
        dict(cfg=dict(type='CBAM', residual=True), stages=(False, True, True, True),
             position='after_conv2'),
        dict(cfg=dict(type='CBAMChannelAttention', postfix='_c1'), stages=(True, False, False,
                                                                           False),
             position='after_conv1'),
    ]
    model = MODELS.build(dict(type=type_, depth=depth, plugins=plugins))
    block = model.layer2[0]
    assert block.plugin_names == {'after_conv1': [], 'after_conv2': ['cbam']}
    assert model.layer1[0].plugin_names['after_conv1'] == ['channel_att_c1']
    assert block.cbam.in_channels == 128 and model.layer4[0].cbam.in_channels == 512
    x = torch.randn(2, 3, 64, 64, requires_grad=True)
    outs = model(x)
    assert [o.shape[1] for o in outs] == [64, 128, 256, 512]
    sum(o.mean() for o in outs).backward()
    assert block.cbam.alpha is not None and block.cbam.ca.fc1.weight.grad is not None


def test_basicblock_plugin_forward_order():
    """after_conv2 attention sees norm2's output, before the residual addition."""
    MODELS = det_models()
    model = MODELS.build(dict(type='PluginResNet', depth=18, plugins=[
        dict(cfg=dict(type='CBAM'), stages=(True, False, False, False), position='after_conv2')
    ]))
    model.eval()  # mmdet's ResNet.train() does not return self
    block = model.layer1[0]
    seen = {}
    block.cbam.register_forward_hook(lambda m, a, o: seen.update(inp=a[0], out=o))
    x = torch.randn(1, 64, 16, 16)
    y = block(x)
    expected_in = block.norm2(block.conv2(block.relu(block.norm1(block.conv1(x)))))
    torch.testing.assert_close(seen['inp'], expected_in)
    torch.testing.assert_close(y, torch.relu(seen['out'] + x))


@pytest.mark.parametrize('scope', ['det', 'seg'])
def test_plain_resnet18_checkpoint_loads_with_only_cbam_keys_missing(scope):
    MODELS = det_models() if scope == 'det' else seg_models()
    plain = MODELS.build(dict(type='ResNet', depth=18))
    ours = MODELS.build(dict(type='PluginResNet', depth=18, plugins=[
        dict(cfg=dict(type='CBAM', residual=True, alpha_init=0.0), stages=(True, ) * 4,
             position='after_conv2')
    ]))
    result = ours.load_state_dict(plain.state_dict(), strict=False)
    assert not result.unexpected_keys
    assert result.missing_keys and all('.cbam.' in k for k in result.missing_keys)
    plain.eval(), ours.eval()
    x = torch.randn(1, 3, 64, 64)
    for a, b in zip(plain(x), ours(x)):
        assert torch.equal(a, b)  # alpha=0: exactly the plain network


def test_basicblock_rejects_after_conv3_and_keeps_zero_init():
    MODELS = det_models()
    with pytest.raises(ValueError, match="position='after_conv3' is not supported here; allowed "
                       "values: \\('after_conv1', 'after_conv2'\\)"):
        MODELS.build(dict(type='PluginResNet', depth=18, plugins=PLUGIN))
    model = MODELS.build(dict(type='PluginResNet', depth=18, plugins=[
        dict(cfg=dict(type='CBAM'), stages=(True, ) * 4, position='after_conv2')
    ]))
    model.init_weights()
    assert model.layer1[0].norm2.weight.abs().sum() == 0  # upstream zero_init_residual
    assert model.layer1[0].norm1.weight.abs().sum() > 0


# ----------------------------------------------------------------------------- necks


class StackTestAffine(nn.Module):
    """A plugin computing ``x * scale + shift``: two of them compose differently than either."""
    _abbr_ = 'affine'

    def __init__(self, in_channels, scale=1.0, shift=0.0):
        super().__init__()
        self.scale, self.shift = scale, shift

    def forward(self, x):
        return x * self.scale + self.shift


def _stacked(position, stages=(True, False, False, False)):
    from mmengine.registry import MODELS
    MODELS.register_module('StackTestAffine', module=StackTestAffine, force=True)
    return [dict(cfg=dict(type='StackTestAffine', scale=2.0, postfix='_a'), stages=stages,
                 position=position),
            dict(cfg=dict(type='StackTestAffine', shift=1.0, postfix='_b'), stages=stages,
                 position=position)]


def _literal_block(blk, x, bottleneck: bool):
    """The block's forward written out, with the two plugins composed: 2 * out + 1."""
    out = blk.relu(blk.norm1(blk.conv1(x)))
    if bottleneck:
        out = blk.norm3(blk.conv3(blk.relu(blk.norm2(blk.conv2(out)))))
    else:
        out = blk.norm2(blk.conv2(out))
    out = 2 * out + 1
    identity = x if blk.downsample is None else blk.downsample(x)
    return blk.relu(out + identity)


@pytest.mark.parametrize('scope,type_,depth', [('seg', 'PluginResNetV1c', 50),
                                               ('seg', 'PluginResNet', 50),
                                               ('det', 'PluginResNet', 50),
                                               ('seg', 'PluginResNetV1c', 18),
                                               ('det', 'PluginResNet', 18)])
def test_stacked_plugins_are_applied_in_order(scope, type_, depth):
    registry = det_models() if scope == 'det' else seg_models()
    position = 'after_conv3' if depth >= 50 else 'after_conv2'
    backbone = registry.build(dict(type=type_, depth=depth, plugins=_stacked(position)))
    backbone.eval()
    blk = backbone.layer1[0]
    x = torch.randn(2, blk.conv1.in_channels, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(blk(x), _literal_block(blk, x, depth >= 50))


def test_upstream_mmseg_bottleneck_drops_the_first_stacked_plugin():
    """The bug the Plugin* backbones fix (mmsegmentation 1.2.2): the plain ResNetV1c applies
    every plugin to the block input and keeps only the last one."""
    backbone = seg_models().build(
        dict(type='ResNetV1c', depth=50, plugins=_stacked('after_conv3')))
    backbone.eval()
    blk = backbone.layer1[0]
    x = torch.randn(2, blk.conv1.in_channels, 16, 16)
    with torch.no_grad():
        assert not torch.allclose(blk(x), _literal_block(blk, x, True))
