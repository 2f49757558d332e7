"""Layouts: NHWC and token inputs give the NCHW result on the same data, forward and backward
(input and parameter gradients), for every variant of the catalogue -- the fused CBAM function
and the plain composition -- in fp32 and under bf16 autocast."""
import pytest
import torch
from mmengine.config import Config

from mm_cbam.attention import CBAM, CBAMChannelAttention, CBAMSpatialAttention

from conftest import CONFIGS

N, C, H, W = 2, 32, 6, 10


def _variants():
    catalogue = Config.fromfile(str(CONFIGS / '_base_' / 'cbam_variants.py')).cbam_variants
    out = {name: (CBAM, {k: v for k, v in cfg.items() if k != 'type'})
           for name, cfg in catalogue.items()}
    out['alpha_learnable_half'] = (CBAM, dict(residual=True, alpha_init=0.5,
                                              learnable_alpha=True))
    out['plain_composition'] = (CBAM, dict(ca_pool=('avg', 'lse')))  # not the fused function
    out['channel_only'] = (CBAMChannelAttention, {})
    out['spatial_only'] = (CBAMSpatialAttention, dict(kernels=(3, 7)))
    return out


VARIANTS = _variants()


def _to_layout(t: torch.Tensor, layout: str) -> torch.Tensor:
    """A contiguous tensor in ``layout`` holding the NCHW tensor ``t`` (the test's own
    conversion, independent of mm_cbam.attention.layout)."""
    if layout == 'nchw':
        return t.contiguous()
    nhwc = t.permute(0, 2, 3, 1).contiguous()  # (N, H, W, C)
    return nhwc if layout == 'nhwc' else nhwc.view(t.shape[0], -1, t.shape[1])  # (N, H*W, C)


def _from_layout(t: torch.Tensor, layout: str) -> torch.Tensor:
    if layout == 'nchw':
        return t
    if layout == 'tokens':
        t = t.reshape(N, H, W, -1)
    return t.permute(0, 3, 1, 2)  # (N, C, H, W)


def _build(cls, kwargs, layout):
    torch.manual_seed(0)
    args = (C, ) if cls is not CBAMSpatialAttention else ()
    module = cls(*args, layout=layout, **kwargs)
    with torch.no_grad():  # a trained-looking module: no exact zeros or ones anywhere
        for name, p in module.named_parameters():
            if name.endswith('alpha'):
                continue
            p.add_(torch.randn_like(p) * 0.1)
    return module


def _run(cls, kwargs, layout, x, grad_out, autocast=False):
    """Output, input gradient and parameter gradients, all NCHW / by name."""
    module = _build(cls, kwargs, layout)
    inp = _to_layout(x, layout).detach().clone().requires_grad_()
    hw = dict(hw_shape=(H, W)) if layout == 'tokens' else {}
    with torch.autocast('cpu', dtype=torch.bfloat16, enabled=autocast):
        out = module(inp, **hw)
    assert out.shape == _to_layout(x, layout).shape
    out.backward(_to_layout(grad_out, layout).to(out.dtype))
    grads = {n: p.grad.clone() for n, p in module.named_parameters() if p.grad is not None}
    return _from_layout(out.detach(), layout).float(), _from_layout(inp.grad, layout), grads, out


@pytest.mark.parametrize('layout', ['nhwc', 'tokens'])
@pytest.mark.parametrize('name', sorted(VARIANTS))
def test_layout_parity_fp32(name, layout):
    cls, kwargs = VARIANTS[name]
    torch.manual_seed(1)
    x, grad_out = torch.randn(N, C, H, W), torch.randn(N, C, H, W)
    ref_out, ref_gx, ref_gp, _ = _run(cls, kwargs, 'nchw', x, grad_out)
    out, gx, gp, raw = _run(cls, kwargs, layout, x, grad_out)
    torch.testing.assert_close(out, ref_out, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(gx, ref_gx, rtol=1e-5, atol=1e-6)
    assert gp.keys() == ref_gp.keys() and gp
    for key in gp:
        torch.testing.assert_close(gp[key], ref_gp[key], rtol=1e-4, atol=1e-5, msg=key)
    # returned in the input's layout without a later copy: contiguous as given
    assert raw.is_contiguous()


@pytest.mark.parametrize('layout', ['nhwc', 'tokens'])
@pytest.mark.parametrize('name', ['classic', 'identity_start', 'dynamic', 'official',
                                  'plain_composition'])
def test_layout_parity_bf16_autocast(name, layout):
    cls, kwargs = VARIANTS[name]
    torch.manual_seed(2)
    x, grad_out = torch.randn(N, C, H, W), torch.randn(N, C, H, W)
    ref_out, ref_gx, ref_gp, ref_raw = _run(cls, kwargs, 'nchw', x, grad_out, autocast=True)
    out, gx, gp, raw = _run(cls, kwargs, layout, x, grad_out, autocast=True)
    assert raw.dtype == ref_raw.dtype
    # bf16 keeps 8 bits of mantissa: the layouts agree to its resolution
    torch.testing.assert_close(out, ref_out, rtol=2e-2, atol=2e-2)
    torch.testing.assert_close(gx.float(), ref_gx.float(), rtol=2e-2, atol=2e-2)
    for key in gp:
        torch.testing.assert_close(gp[key], ref_gp[key], rtol=5e-2, atol=5e-2, msg=key)
    # and both agree with the fp32 result to bf16 resolution
    fp32_out = _run(cls, kwargs, 'nchw', x, grad_out)[0]
    torch.testing.assert_close(out, fp32_out, rtol=5e-2, atol=5e-2)


def test_maps_are_nchw_whatever_the_layout():
    x = torch.randn(N, C, H, W)
    ref = _build(CBAM, dict(return_maps=True), 'nchw')(x)
    tokens = _build(CBAM, dict(return_maps=True), 'tokens')
    out = tokens(_to_layout(x, 'tokens'), hw_shape=(H, W))
    assert out[0].shape == (N, H * W, C)
    assert ref[1].shape == (N, C, 1, 1) and ref[2].shape == (N, 1, H, W)
    for a, b in zip(ref[1:], out[1:]):
        if a is None:  # fusion weights of the plain sum
            assert b is None
            continue
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_bad_layout_inputs_are_named():
    with pytest.raises(ValueError, match="layout.*'nchw', 'nhwc', 'tokens'"):
        CBAM(C, layout='nlc')
    tokens = CBAM(C, layout='tokens')
    x = torch.randn(N, H * W, C)
    with pytest.raises(ValueError, match=r"needs hw_shape=\(H, W\)"):
        tokens(x)
    with pytest.raises(ValueError, match=r'hw_shape=\(6, 9\) gives 54 positions, the tokens '
                       r'have 60'):
        tokens(x, hw_shape=(6, 9))
    with pytest.raises(ValueError, match=r"layout='nhwc' expects \(N, H, W, C\)"):
        CBAM(C, layout='nhwc')(x)
    with pytest.raises(ValueError, match='channels'):
        CBAM(C, layout='nhwc')(torch.randn(N, H, W, C + 1))
