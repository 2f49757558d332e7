"""Attention inside modern blocks: token outputs with the spatial shape taken from the enclosing
block (Swin / MiT), channels-last outputs (ConvNeXt), and CBAM on every stage output of any
backbone (CBAMBackbone)."""
import copy

import pytest
import torch
import torch.nn as nn

import mm_cbam  # noqa: F401
from mm_cbam.attention import CBAM, attention_modules
from mm_cbam.models import insert_cbam

from conftest import det_models, seg_models

C = 16


class TokenBlock(nn.Module):
    """A Swin-like block: ``forward(x, hw_shape)`` on ``(N, H*W, C)`` tokens, an MLP whose
    output is added to the input."""

    def __init__(self):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(C, 2 * C), nn.GELU(), nn.Linear(2 * C, C))

    def forward(self, x, hw_shape):
        return x + self.mlp(x)


class TokenNet(nn.Module):

    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([TokenBlock(), TokenBlock()])

    def forward(self, x, hw_shape):
        for block in self.blocks:
            x = block(x, hw_shape)
        return x


def _cbam_like(module):
    """An NCHW CBAM with the weights of ``module`` (a token-layout CBAM)."""
    ref = CBAM(C, reduction=4, residual=True, alpha_init=0.7)
    ref.load_state_dict(module.state_dict())
    return ref


def test_token_attention_takes_hw_shape_from_the_enclosing_block():
    torch.manual_seed(0)
    net = TokenNet()
    plain = copy.deepcopy(net)
    names = insert_cbam(net, 'blocks.*.mlp', dict(type='CBAM', reduction=4, residual=True,
                                                  alpha_init=0.7),
                        layout='tokens', hw_shape_from='blocks.*')
    assert names == ['blocks.0.mlp', 'blocks.1.mlp']
    # the plain model's weights load with only attention keys missing
    result = net.load_state_dict(plain.state_dict(), strict=False)
    assert not result.unexpected_keys
    assert result.missing_keys and all('.mlp.cbam.' in k for k in result.missing_keys)

    x = torch.randn(2, 4 * 6, C)
    out = net(x, (4, 6))
    # the literal composition: every block's MLP output refined by an NCHW CBAM on its grid
    expected = x
    for block, plain_block in zip(net.blocks, plain.blocks):
        ref = _cbam_like(block.mlp.cbam)
        y = plain_block.mlp(expected)  # (N, H*W, C)
        y = ref(y.transpose(1, 2).reshape(2, C, 4, 6)).flatten(2).transpose(1, 2)
        expected = expected + y
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)
    # another grid next call: the recorded hw_shape follows the arguments
    assert net(torch.randn(1, 3 * 5, C), (3, 5)).shape == (1, 15, C)
    with pytest.raises(ValueError, match=r'hw_shape=\(3, 4\) gives 12 positions, the tokens '
                       'have 15'):
        net(torch.randn(1, 15, C), (3, 4))
    # copies keep their own link (deepcopy of the model: the EMA hook does it)
    twin = copy.deepcopy(net)
    torch.testing.assert_close(twin(x, (4, 6)), out)


def test_token_insert_errors_name_the_fix():
    with pytest.raises(ValueError, match="layout='tokens' needs hw_shape_from=PATTERN"):
        insert_cbam(TokenNet(), 'blocks.*.mlp', layout='tokens')
    with pytest.raises(ValueError, match="hw_shape_from 'head' matches no module enclosing "
                       'blocks.0.mlp'):
        insert_cbam(TokenNet(), 'blocks.*.mlp', layout='tokens', hw_shape_from='head')
    with pytest.raises(ValueError, match='each insert entry must be'):
        det_models().build(dict(type='InsertCBAM', model_type='ResNet', depth=18,
                                insert=[dict(after='layer1', shape='tokens')]))


def test_channels_last_insert_in_a_convnext_block():
    from mmpretrain.models import ConvNeXt
    torch.manual_seed(0)
    net = ConvNeXt(arch=dict(depths=[1, 1, 1, 1], channels=[8, 16, 32, 64]),
                   layer_scale_init_value=0.5, gap_before_final_norm=False, out_indices=(1, ))
    plain = copy.deepcopy(net)
    plain.eval()
    insert_cbam(net, 'stages.1.0.pointwise_conv2', dict(type='CBAM', reduction=4),
                layout='nhwc')
    net.eval()
    block, module = net.stages[1][0], net.stages[1][0].pointwise_conv2.cbam
    assert module.in_channels == 16
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        # literal composition of stage 2's block: depthwise conv, LN and MLP channels last,
        # CBAM (an NCHW module with the same weights), layer scale, residual addition
        h = plain.downsample_layers[1](plain.stages[0](plain.downsample_layers[0](x)))
        pb = plain.stages[1][0]
        y = pb.depthwise_conv(h).permute(0, 2, 3, 1)  # (N, H, W, C)
        y = pb.pointwise_conv2(pb.act(pb.pointwise_conv1(pb.norm(y, data_format='channel_last'))))
        ref = CBAM(16, reduction=4)
        ref.load_state_dict(module.state_dict())
        y = ref(y.permute(0, 3, 1, 2))  # (N, C, H, W)
        expected = h + y * pb.gamma.view(1, -1, 1, 1)
        out = net(x)[0]
    assert block.linear_pw_conv
    torch.testing.assert_close(out, plain.norm1(expected), rtol=1e-5, atol=1e-5)


def test_cbam_on_every_stage_output_of_a_swin_backbone():
    MODELS = seg_models()
    cfg = dict(embed_dims=16, depths=[1, 1, 1, 1], num_heads=[1, 2, 2, 4], window_size=4,
               pretrain_img_size=64)
    torch.manual_seed(0)
    plain = MODELS.build(dict(type='SwinTransformer', **cfg))
    plain.eval()  # (Swin's train() returns None)
    wrapped = MODELS.build(dict(type='CBAMBackbone', backbone_type='SwinTransformer',
                                cbam=dict(type='CBAM', reduction=4), levels=(1, 2, 3), **cfg))
    assert type(wrapped).__name__ == 'SwinTransformer'
    assert [m.in_channels for _, m in attention_modules(wrapped)] == [32, 64, 128]
    result = wrapped.load_state_dict(plain.state_dict(), strict=False)
    assert not result.unexpected_keys and all(k.startswith('cbam.') for k in result.missing_keys)
    wrapped.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        base, outs = plain(x), wrapped(x)
        assert torch.equal(outs[0], base[0])  # level 0 not selected
        for lv in (1, 2, 3):
            torch.testing.assert_close(outs[lv], wrapped.cbam.levels[str(lv)](base[lv]))
            assert not torch.equal(outs[lv], base[lv])


def test_cbam_backbone_probe_leaves_statistics_untouched():
    MODELS = det_models()
    backbone = MODELS.build(dict(type='CBAMBackbone', backbone_type='ResNet', depth=18,
                                 norm_eval=False))
    assert [m.in_channels for _, m in attention_modules(backbone)] == [64, 128, 256, 512]
    stats = [b.running_mean for b in backbone.modules() if isinstance(b, nn.BatchNorm2d)]
    assert all(torch.equal(s, torch.zeros_like(s)) for s in stats) and backbone.training
    given = MODELS.build(dict(type='CBAMBackbone', backbone_type='ResNet', depth=18,
                              out_channels_per_level=[64, 128, 256, 512], levels=(3, )))
    assert [m.in_channels for _, m in attention_modules(given)] == [512]
