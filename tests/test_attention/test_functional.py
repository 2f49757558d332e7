"""GPU-grade numerics of the fused CBAM, checked on the CPU: memory format, reduced precision,
double backward, torch.compile, nn.DataParallel replicas, determinism, and the official CBAM's
options (lp / lse pooling, normalised spatial convolution)."""
from collections import OrderedDict

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mm_cbam.attention import CBAM, CBAMChannelAttention, CBAMSpatialAttention
from mm_cbam.notebook import classes as nb

VARIANTS = [
    dict(),
    dict(residual=True, learnable_alpha=True, alpha_init=0.4, ca_fusion='softmax'),
    dict(sa_kernels=(3, 7, 7), sa_dilations=(1, 1, 2), learnable_temperature=True),
]


def _randomised(module, seed=0, scale=0.3):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn(p.shape, generator=g, dtype=p.dtype) * scale)
    return module


def _weighted_sum(out):
    return (out * torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)).sum()


def _grads(module, x, out_fn=_weighted_sum):
    module.zero_grad()
    x = x.detach().clone().requires_grad_()
    out = module(x)
    out_fn(out).backward()
    return out, x.grad, {n.replace('_orig_mod.', ''): p.grad.clone()
                         for n, p in module.named_parameters()}


@pytest.mark.parametrize('kwargs', VARIANTS)
def test_channels_last_in_channels_last_out_same_values_no_copy(kwargs):
    torch.manual_seed(0)
    m = _randomised(CBAM(24, reduction=4, **kwargs).double())
    x = torch.randn(2, 24, 9, 11, dtype=torch.double)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    out, gx, gp = _grads(m, x)
    saved = []

    def pack(t):
        saved.append(t)
        return t

    m.zero_grad()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        x_leaf = x_cl.detach().clone().requires_grad_()
        out_cl = m(x_leaf)
    assert out_cl.is_contiguous(memory_format=torch.channels_last)
    assert not out_cl.is_contiguous()
    # the input itself is saved for backward (no full-size copy of it), and nothing else of
    # its size
    full = [t for t in saved if t.numel() == x.numel()]
    assert len(full) == 1 and full[0].data_ptr() == x_leaf.data_ptr()
    torch.testing.assert_close(out_cl, out, atol=1e-12, rtol=0)
    (out_cl * torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)).sum().backward()
    assert x_leaf.grad.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(x_leaf.grad, gx, atol=1e-12, rtol=0)
    for name, p in m.named_parameters():
        torch.testing.assert_close(p.grad, gp[name], atol=1e-12, rtol=0, msg=name)


def _notebook_pair(key, channels, scale=0.3, **kw):
    """The literal notebook module and mm_cbam's, with the same random weights."""
    torch.manual_seed(0)
    ref = nb.build_reference(key, channels=channels, **kw)
    _randomised(ref, scale=scale)
    return ref, nb.from_notebook(key, ref.state_dict(), channels=channels, **kw)


def _rel(a, b):
    """Relative error in the L2 norm."""
    return ((a.double() - b.double()).norm() / b.double().norm()).item()


def test_bfloat16_autocast_error_is_that_of_the_literal_composition():
    """bf16 keeps 8 mantissa bits: the literal formulas themselves are off by ~1.5 % (output)
    and ~5 % (input gradient) from fp32 (relative L2 errors); the fused function must not add
    to that."""
    ref, ours = _notebook_pair('dynamic.CBAMResidualDynamicSA', 64, learnable_alpha=True,
                               alpha_init=0.5)
    x = torch.randn(2, 64, 16, 16) * 2
    errors = {}
    for name, module in (('literal', ref), ('fused', ours)):
        out32, gx32, _ = _grads(module, x)
        with torch.autocast('cpu', dtype=torch.bfloat16):  # input in bf16, as after a conv
            out16, gx16, _ = _grads(module, x.bfloat16(), out_fn=lambda o: (
                o.float() * torch.linspace(-1, 1, o.numel()).view_as(o)).sum())
        assert out16.dtype == torch.bfloat16
        errors[name] = (_rel(out16, out32), _rel(gx16, gx32))
    (lit_out, lit_grad), (out_err, grad_err) = errors['literal'], errors['fused']
    assert out_err < 0.03 and grad_err < 0.1  # stated tolerances
    assert out_err <= 1.25 * lit_out + 1e-3 and grad_err <= 1.25 * lit_grad + 1e-3, errors


def test_float16_large_channel_count_does_not_overflow():
    """C=2048 and |x| ~ 100: the channel *sum* of x*ca exceeds fp16's 65504, the mean does not.
    In fp16 the fused function is as accurate as the literal formulas in fp16."""
    ref, ours = _notebook_pair('residual.CBAMResidual', 2048, scale=0.05, alpha_init=0.7,
                               learnable_alpha=True)
    x = 100 + 5 * torch.randn(2, 2048, 6, 6)
    out64, gx64, _ = _grads(ref.double(), x.double(), out_fn=lambda o: o.sum() / 1e4)
    assert torch.isfinite(out64).all() and torch.isfinite(gx64).all()
    errors = {}
    for name, module in (('literal', ref), ('fused', ours)):
        out16, gx16, gp16 = _grads(module.half(), x.half(), out_fn=lambda o: o.float().sum() / 1e4)
        assert torch.isfinite(out16).all() and torch.isfinite(gx16).all(), name
        errors[name] = (_rel(out16, out64), _rel(gx16, gx64))
        alpha_grad = gp16['alpha']
        assert torch.isfinite(alpha_grad) and alpha_grad != 0
    (lit_out, lit_grad), (out_err, grad_err) = errors['literal'], errors['fused']
    assert out_err <= 1.25 * lit_out + 1e-3 and grad_err <= 1.25 * lit_grad + 1e-3, errors


def test_double_backward_matches_the_literal_composition():
    key = 'dynamic.CBAMResidualDynamicSA'
    kw = dict(channels=16, learnable_alpha=True, alpha_init=0.6)
    torch.manual_seed(0)
    ref = nb.build_reference(key, **kw).double()
    _randomised(ref)
    ours = nb.from_notebook(key, ref.state_dict(), **kw)
    x = torch.randn(2, 16, 7, 8, dtype=torch.double)
    results = []
    for module in (ref, ours):
        module.zero_grad()
        xi = x.clone().requires_grad_()
        (g, ) = torch.autograd.grad(module(xi).pow(2).sum(), xi, create_graph=True)
        penalty = g.pow(2).sum()  # a gradient penalty
        penalty.backward()
        grads = {n: p.grad for n, p in module.named_parameters()}
        results.append((penalty.detach(), xi.grad, grads))
    (p_ref, gx_ref, gp_ref), (p_ours, gx_ours, gp_ours) = results
    torch.testing.assert_close(p_ours, p_ref, atol=1e-9, rtol=1e-9)
    torch.testing.assert_close(gx_ours, gx_ref, atol=1e-9, rtol=1e-7)
    converted = nb.convert_state_dict(key, gp_ref, **kw)
    for name, grad in gp_ours.items():
        torch.testing.assert_close(grad, converted[name], atol=1e-9, rtol=1e-7, msg=name)


@pytest.mark.slow
def test_torch_compile_gives_the_eager_results():
    torch.manual_seed(0)
    m = _randomised(CBAM(32, residual=True, learnable_alpha=True, alpha_init=0.5,
                         sa_kernels=(3, 7)))
    x = torch.randn(2, 32, 12, 12)
    out, gx, gp = _grads(m, x)
    compiled = torch.compile(m, backend='inductor', fullgraph=True)
    out_c, gx_c, gp_c = _grads(compiled, x)
    torch.testing.assert_close(out_c, out, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(gx_c, gx, atol=1e-5, rtol=1e-5)
    for name in gp:
        torch.testing.assert_close(gp_c[name], gp[name], atol=1e-5, rtol=1e-4, msg=name)


def _cpu_replica(module: nn.Module) -> nn.Module:
    """What nn.DataParallel's replicate() makes, on the CPU: modules whose ``_parameters`` are
    empty and whose parameters are non-leaf copies set as attributes (``_former_parameters``)."""
    replicas = {m: m._replicate_for_data_parallel() for m in module.modules()}
    for m, r in replicas.items():
        for name, child in m._modules.items():
            r._modules[name] = replicas[child] if child is not None else None
        r._former_parameters = OrderedDict()
        for name, p in m._parameters.items():
            copy = None if p is None else p.view_as(p)
            setattr(r, name, copy)
            if copy is not None:
                r._former_parameters[name] = copy
    return replicas[module]


def test_data_parallel_replicas_pass_gradients_to_the_parameters():
    torch.manual_seed(0)
    m = _randomised(CBAM(16, residual=True, learnable_alpha=True, alpha_init=0.5,
                         ca_fusion='softmax', sa_kernels=(3, 7)))
    x = torch.randn(2, 16, 8, 8)
    _, _, direct = _grads(m, x)
    m.zero_grad()
    replica = _cpu_replica(m)
    assert list(replica.parameters()) == []  # as on a real replica
    replica(x).mul(torch.linspace(-1, 1, x.numel()).view_as(x)).sum().backward()
    for name, p in m.named_parameters():
        assert p.grad is not None, name
        torch.testing.assert_close(p.grad, direct[name], msg=name)


def test_every_module_runs_under_deterministic_algorithms():
    torch.manual_seed(0)
    modules = [CBAM(16), CBAM(16, sa_kernels=(3, 7), residual=True, learnable_alpha=True),
               CBAMChannelAttention(16), CBAMSpatialAttention((3, 5)),
               CBAM(16, ca_pool=('avg', 'max', 'lse'))]
    x = torch.randn(2, 16, 8, 8)
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        for m in modules:
            runs = [_grads(m, x) for _ in range(2)]
            assert torch.equal(runs[0][0], runs[1][0]) and torch.equal(runs[0][1], runs[1][1])
    finally:
        torch.use_deterministic_algorithms(previous)


# ----------------------------------------------------------------------------- official options


def test_lp_and_lse_pooling_match_their_definitions_and_gradcheck():
    torch.manual_seed(0)
    ca = CBAMChannelAttention(8, reduction=2, pool=('avg', 'max', 'lp', 'lse')).double()
    x = torch.randn(2, 8, 5, 4, dtype=torch.double)
    flat = x.flatten(2)
    descs = ca.descriptors(x)
    torch.testing.assert_close(descs[2], F.lp_pool2d(x, 2, (5, 4)).flatten(1))  # official lp
    s = flat.max(dim=2, keepdim=True).values  # official logsumexp_2d
    torch.testing.assert_close(descs[3], (s + (flat - s).exp().sum(2, keepdim=True).log())[..., 0])
    m = CBAM(8, reduction=2, ca_pool=('avg', 'lp', 'lse'), residual=True,
             learnable_alpha=True).double()
    _randomised(m)
    xg = x.clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda x, *p: m(x), (xg, *m.parameters()))


def test_normalised_spatial_gate_is_conv_bn_sigmoid_and_updates_bn_once():
    torch.manual_seed(0)
    norm = dict(type='BN', eps=1e-5, momentum=0.01)
    m = CBAM(16, sa_norm_cfg=norm, sa_norm_zero_init=True)
    assert m.sa.norm.weight.abs().sum() == 0 and m.sa.norm.momentum == 0.01
    _randomised(m)
    m.train()
    x = torch.randn(4, 16, 6, 6, requires_grad=True)
    before = m.sa.norm.running_mean.clone()
    m(x).sum().backward()
    # literal: the same descriptor through conv -> batch-norm (batch statistics) -> sigmoid
    with torch.no_grad():
        y = x * m.ca.mask(x)[0][:, :, None, None]
        s = torch.cat([y.mean(1, keepdim=True), y.amax(1, keepdim=True)], 1)
        z = m.sa.branches[0](s)
        expected_mean = 0.99 * before + 0.01 * z.mean()
    torch.testing.assert_close(m.sa.norm.running_mean, expected_mean)  # updated exactly once
    assert m.sa.norm.weight.grad is not None and m.sa.branches[0].weight.grad is not None
    m.eval()
    with torch.no_grad():
        z_eval = (z - m.sa.norm.running_mean[:, None, None]) / torch.sqrt(
            m.sa.norm.running_var[:, None, None] + 1e-5) * m.sa.norm.weight[:, None, None] \
            + m.sa.norm.bias[:, None, None]
        torch.testing.assert_close(m(x), y * torch.sigmoid(z_eval))


def test_norm_zero_init_survives_a_parent_constant_init():
    from mmengine.model import BaseModule

    class Parent(BaseModule):

        def __init__(self):
            super().__init__(init_cfg=[dict(type='Constant', val=1,
                                            layer=['_BatchNorm', 'GroupNorm'])])
            self.cbam = CBAM(16, sa_norm_cfg=dict(type='BN'), sa_norm_zero_init=True)
            self.bn = nn.BatchNorm2d(4)

    parent = Parent()
    with torch.no_grad():
        parent.bn.weight.zero_()
    parent.init_weights()
    assert parent.bn.weight.eq(1).all()  # the parent's init ran ...
    assert parent.cbam.sa.norm.weight.eq(0).all()  # ... and the zero start was kept


@pytest.mark.parametrize('factory,match', [
    (lambda: CBAM(16, ca_pool=('avg', 'median')),
     r"every pool type in ca_pool='median' is not supported; allowed values: 'avg', 'max', "
     r"'lp', 'lse'"),
    (lambda: CBAM(16, ca_pool=('avg', 'avg')), r'repeats a pool type'),
    (lambda: CBAM(16, sa_norm_cfg=dict(type='LN')),
     r"sa_norm_cfg.type='LN' is not supported; allowed values: 'BN', 'SyncBN', 'GN', 'IN'"),
    (lambda: CBAM(16, sa_norm_cfg=dict(type='BN', moment=0.1)), r'sa_norm_cfg=.*moment'),
    (lambda: CBAM(16, sa_norm_zero_init=True), r'sa_norm_zero_init=True needs sa_norm_cfg'),
    (lambda: CBAM(16, return_maps=('ca', 'attn')),
     r"every map name in return_maps='attn' is not supported; allowed values: 'ca', 'sa', "
     r"'fusion_w', 'router_w'"),
])
def test_bad_official_options_fail_at_construction(factory, match):
    with pytest.raises(ValueError, match=match):
        factory()


def test_return_maps_can_name_the_maps():
    m = CBAM(16, sa_kernels=(3, 7), return_maps=('sa', 'router_w'))
    out, sa, rw = m(torch.randn(2, 16, 5, 5))
    assert sa.shape == (2, 1, 5, 5) and rw.shape == (2, 2)


def test_gpu_check_script_runs_its_correctness_checks_on_the_cpu():
    """tools/analysis/gpu_check.py is meant for a GPU; its correctness part runs anywhere."""
    from mm_cbam.analysis import gpu_check
    gpu_check.RESULTS.clear()
    code = gpu_check.main(['--device', 'cpu', '--quick', '--skip', 'compile', 'resnet',
                           'benchmark'])
    names = [r['check'] for r in gpu_check.RESULTS]
    assert code == 0 and all(r['passed'] for r in gpu_check.RESULTS), gpu_check.RESULTS
    assert 'channels_last in -> channels_last out' in names
    assert 'double backward (gradient penalty) vs literal' in names
    assert sum(n.startswith('deterministic mode') for n in names) == 5
