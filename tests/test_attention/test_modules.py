"""Behaviour of the attention modules: options, validation, maps, fused autograd."""
import pytest
import torch

from mm_cbam.attention import (CBAM, CBAMChannelAttention, CBAMSpatialAttention, Temperature,
                               attention_modules, record_attention)


def test_default_cbam_shapes_and_gradients():
    m = CBAM(32)
    x = torch.randn(2, 32, 10, 12, requires_grad=True)
    out = m(x)
    assert out.shape == x.shape
    out.square().mean().backward()
    assert x.grad.shape == x.shape and x.grad.abs().sum() > 0
    for name, p in m.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


@pytest.mark.parametrize('kwargs', [
    dict(),
    dict(residual=True, learnable_alpha=True, alpha_init=0.3),
    dict(ca_fusion='softmax', learnable_temperature=True, ca_temperature=2.0),
    # the two costliest (about 20 s each on 2 cores) run in the full suite only
    pytest.param(dict(sa_kernels=(3, 7, 7), sa_dilations=(1, 1, 2), sa_bias=True, ca_act='silu'),
                 marks=pytest.mark.slow),
    pytest.param(dict(ca_gate='hardsigmoid', sa_gate='hardsigmoid', residual=True),
                 marks=pytest.mark.slow),
])
def test_fused_autograd_matches_gradcheck(kwargs):
    torch.manual_seed(0)
    m = CBAM(12, reduction=4, **kwargs).double()
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    x = torch.randn(2, 12, 5, 6, dtype=torch.double, requires_grad=True)
    params = list(m.parameters())
    assert torch.autograd.gradcheck(lambda x, *ps: m(x), (x, *params), atol=1e-6)


def test_inference_path_equals_training_path():
    m = CBAM(16, sa_kernels=(3, 7), residual=True, alpha_init=0.5, ca_fusion='softmax')
    x = torch.randn(2, 16, 9, 9)
    with torch.no_grad():
        a = m(x)
    b = m(x.requires_grad_())
    assert b.requires_grad
    torch.testing.assert_close(a, b, atol=0, rtol=0)


def test_alpha_zero_is_exact_identity_and_alpha_gets_gradient():
    m = CBAM(16, residual=True, alpha_init=0.0, learnable_alpha=True)
    x = torch.randn(2, 16, 8, 8, requires_grad=True)
    out = m(x)
    assert torch.equal(out, x)
    out.pow(2).sum().backward()
    assert m.alpha.grad is not None and m.alpha.grad.abs() > 0


def test_fixed_alpha_is_buffer_learnable_alpha_is_parameter():
    fixed = CBAM(8, residual=True, alpha_init=0.25)
    assert 'alpha' in dict(fixed.named_buffers()) and fixed.alpha.item() == 0.25
    learn = CBAM(8, residual=True, alpha_init=0.25, learnable_alpha=True)
    assert 'alpha' in dict(learn.named_parameters())
    assert CBAM(8).alpha is None


@pytest.mark.parametrize('value', [0.1, 1.0, 3.0, 40.0])
def test_learnable_temperature_starts_at_given_value(value):
    t = Temperature(value, learnable=True)
    assert abs(t().item() - value) < 1e-5 * max(1.0, value)
    assert Temperature(value, learnable=False)().item() == pytest.approx(value)


def test_temperature_scales_the_gate_logits():
    torch.manual_seed(0)
    sharp = CBAMSpatialAttention(7, temperature=0.25, return_maps=True)
    soft = CBAMSpatialAttention(7, temperature=4.0, return_maps=True)
    soft.load_state_dict(sharp.state_dict() | {'temperature.T': torch.tensor(4.0)})
    x = torch.randn(2, 8, 12, 12) * 3
    _, sa_sharp = sharp(x)
    _, sa_soft = soft(x)
    # T < 1 pushes the mask to 0/1, T > 1 towards 0.5
    assert (sa_sharp - 0.5).abs().mean() > (sa_soft - 0.5).abs().mean()
    logits = sharp.branches[0](torch.cat([x.mean(1, True), x.amax(1, True)], 1))
    torch.testing.assert_close(sa_sharp, torch.sigmoid(logits / 0.25))


def test_return_maps_shapes():
    m = CBAM(32, ca_fusion='softmax', return_maps=True)
    out, ca, sa, fw = m(torch.randn(2, 32, 6, 7))
    assert out.shape == (2, 32, 6, 7) and ca.shape == (2, 32, 1, 1) and sa.shape == (2, 1, 6, 7)
    assert fw.shape == (2, ) and torch.allclose(fw.sum(), torch.tensor(1.0))
    m = CBAM(32, sa_kernels=(3, 7, 7), sa_dilations=(1, 1, 2), return_maps=True)
    out, ca, sa, fw, rw = m(torch.randn(2, 32, 6, 7))
    assert fw is None and rw.shape == (2, 3)
    torch.testing.assert_close(rw.sum(1), torch.ones(2))


def test_record_attention_keeps_maps_only_inside_context():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3), CBAM(16, sa_kernels=(3, 7)))
    x = torch.randn(2, 3, 10, 10)
    model(x)
    assert model[1].last_maps is None
    with record_attention(model) as modules:
        assert modules == [model[1]]
        model(x)
        maps = model[1].last_maps
        assert maps['ca'].shape == (2, 16) and maps['sa'].shape == (2, 1, 8, 8)
        assert maps['router_w'].shape == (2, 2) and not maps['sa'].requires_grad
    assert model[1].last_maps is None and not model[1].recording


def test_attention_modules_skips_inner_parts():
    model = torch.nn.Sequential(CBAM(8), CBAMChannelAttention(8), CBAMSpatialAttention(7))
    assert [n for n, _ in attention_modules(model)] == ['0', '1', '2']


def test_even_kernel_is_bumped_to_odd_and_keeps_size():
    m = CBAMSpatialAttention(kernels=(4, 6), dilations=(1, 2))
    assert m.kernels == (5, 7)
    x = torch.randn(1, 4, 9, 13)
    assert m(x).shape == x.shape


def test_channel_attention_hidden_width():
    assert CBAMChannelAttention(64, reduction=16).hidden == 4
    assert CBAMChannelAttention(256, reduction=16).hidden == 16
    assert CBAMChannelAttention(8, reduction=16, min_hidden=3).hidden == 3


@pytest.mark.parametrize('factory,match', [
    (lambda: CBAM(16, ca_act='gelu'), r"ca_act='gelu' is not supported; allowed values: "
     r"'relu', 'silu'"),
    (lambda: CBAMChannelAttention(16, act='gelu'), r"^act='gelu' is not supported"),
    (lambda: CBAM(16, ca_gate='tanh'), r"ca_gate='tanh'.*allowed values: 'sigmoid', "
     r"'hardsigmoid'"),
    (lambda: CBAM(16, sa_gate='relu'), r"sa_gate='relu'.*'sigmoid', 'hardsigmoid'"),
    (lambda: CBAM(16, ca_fusion='mean'), r"ca_fusion='mean'.*allowed values: 'sum', 'softmax'"),
    (lambda: CBAM(16, ca_temperature=0),
     r'ca_temperature must be a positive finite number, got 0'),
    (lambda: CBAM(16, sa_temperature=-1.0), r'sa_temperature must be a positive'),
    (lambda: CBAM(16, sa_kernels=0), r'every kernel size in sa_kernels must be an integer >= 1, '
     r'got 0'),
    (lambda: CBAM(16, sa_kernels=(3, 7), sa_dilations=(1, 0)),
     r'every dilation in sa_dilations must be an integer >= 1, got 0'),
    (lambda: CBAM(16, sa_kernels=(3, 7), sa_dilations=(1, )), r'one entry per kernel'),
    (lambda: CBAM(16, sa_kernels=(3, 7), sa_router_hidden=0),
     r'sa_router_hidden must be an integer >= 1, got 0'),
    (lambda: CBAMSpatialAttention(kernels=(3, 5), router_hidden=-2),
     r'^router_hidden must be an integer >= 1, got -2'),
    (lambda: CBAM(16, reduction=32, min_hidden=0), r'reduction=32 leaves no hidden units'),
    (lambda: CBAM(16, reduction=0), r'reduction must be an integer >= 1, got 0'),
    (lambda: CBAM(0), r'in_channels must be an integer >= 1, got 0'),
    (lambda: CBAM(16, learnable_alpha=True), r'learnable_alpha=True requires residual=True'),
    (lambda: CBAM(16, residual=True, alpha_init=float('nan')), r'alpha_init must be finite'),
    (lambda: CBAMSpatialAttention(kernels=()), r'kernels must be an int or a non-empty sequence'),
])
def test_bad_options_fail_at_construction(factory, match):
    with pytest.raises(ValueError, match=match):
        factory()


def test_channel_mismatch_fails_at_forward():
    m = CBAM(16)
    with pytest.raises(ValueError, match=r'in_channels=16 but received an input with 32 channels'):
        m(torch.randn(1, 32, 4, 4))
    with pytest.raises(ValueError, match='expects a 4-D'):
        m(torch.randn(16, 4, 4))
    sa = CBAMSpatialAttention(in_channels=8)
    with pytest.raises(ValueError, match='in_channels=8'):
        sa(torch.randn(1, 4, 5, 5))


def test_non_contiguous_input():
    m = CBAM(16)
    x = torch.randn(2, 16, 7, 9).to(memory_format=torch.channels_last)
    torch.testing.assert_close(m(x), m(x.contiguous()))


def test_bfloat16_autocast_cpu():
    m = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1),
                            CBAM(16, residual=True, learnable_alpha=True))
    x = torch.randn(2, 3, 8, 8)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = m(x)
    assert out.dtype == torch.bfloat16 and torch.isfinite(out.float()).all()
    out.float().sum().backward()
    assert m[1].alpha.grad is not None and torch.isfinite(m[1].alpha.grad)


def test_registered_in_root_registry_with_abbr():
    from mmengine.registry import MODELS

    import mm_cbam  # noqa: F401
    m = MODELS.build(dict(type='CBAM', in_channels=8, residual=True))
    assert isinstance(m, CBAM) and CBAM._abbr_ == 'cbam'
    assert MODELS.get('CBAMChannelAttention') is CBAMChannelAttention
    assert MODELS.get('CBAMSpatialAttention') is CBAMSpatialAttention
