"""Parity of every notebook class definition with its mm_cbam configuration (float64, 1e-6)."""
from pathlib import Path

import pytest
import torch

from mm_cbam.notebook import classes as nb

TOL = 1e-6
ROOT = Path(__file__).resolve().parents[2]

# Option variations applied one (or a few) at a time on top of each class's defaults; only the
# ones a class accepts are used.
VARIATIONS = [
    {},
    dict(act='silu'), dict(ca_act='silu'),
    dict(gate='hardsigmoid'), dict(ca_gate='hardsigmoid', sa_gate='hardsigmoid'),
    dict(sa_gate='hardsigmoid'),
    dict(fusion='sum'), dict(fusion='softmax'), dict(ca_fusion='sum'), dict(ca_fusion='softmax'),
    dict(bias=False), dict(bias=True),
    dict(reduction=4, min_hidden=2), dict(reduction=8),
    dict(kernel_size=3), dict(kernel_size=6), dict(sa_kernel=5), dict(sa_kernel=4),
    dict(temperature=0.5), dict(temperature=2.5, learnable_temperature=True),
    dict(ca_temperature=0.7, sa_temperature=1.8),
    dict(learnable_temperature=True, ca_temperature=2.0, sa_temperature=0.5),
    dict(alpha_init=0.3), dict(alpha_init=0.4, learnable_alpha=True), dict(residual=False),
    dict(residual=False, ca_fusion='softmax'),
    dict(use_dilated=False), dict(kernels=(5, ), use_dilated=True, dilated_d=3),
    dict(kernels=(7, ), use_dilated=False), dict(router_hidden=3), dict(dilated_kernel=4),
    dict(sa_use_dilated=False), dict(sa_kernels=(3, 5, 9), sa_dilated_d=3),
    dict(sa_router_hidden=2), dict(sa_kernels=(7, ), sa_use_dilated=False),
    dict(ca_act='silu', ca_gate='hardsigmoid', sa_gate='hardsigmoid', ca_fusion='sum',
         learnable_temperature=True, learnable_alpha=True, alpha_init=0.2),
    dict(return_maps=True), dict(return_fusion_weights=True), dict(return_router_weights=True),
]


def _cases():
    for key, defn in nb.NOTEBOOK_CLASSES.items():
        seen = set()
        for var in VARIATIONS:
            if not set(var) <= set(defn.signature):
                continue
            frozen = tuple(sorted(var.items()))
            if frozen in seen:
                continue
            seen.add(frozen)
            name = '-'.join(f'{k}={v}' for k, v in var.items())
            yield pytest.param(key, var, id=f'{key}-{name}')


def randomise(module: torch.nn.Module, seed: int):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in list(module.named_parameters()) + list(module.named_buffers()):
            leaf = name.rsplit('.', 1)[-1]
            if leaf == 'alpha':
                t.fill_(0.35 + 0.5 * torch.rand((), generator=g, dtype=t.dtype).item())
            elif leaf == 'T':
                continue  # fixed temperatures are set by the arguments under test
            else:
                t.copy_(torch.randn(t.shape, generator=g, dtype=t.dtype) * 0.6)


def as_tuple(out):
    return out if isinstance(out, tuple) else (out, )


def assert_close(a, b, what):
    assert a.shape == b.shape, f'{what}: shape {tuple(a.shape)} vs {tuple(b.shape)}'
    err = (a - b).abs().max().item()
    assert err <= TOL, f'{what}: max abs difference {err:.3g} > {TOL}'


@pytest.mark.parametrize('key,options', list(_cases()))
def test_notebook_class_parity(key, options):
    defn = nb.NOTEBOOK_CLASSES[key]
    kwargs = dict(options)
    if 'channels' in defn.signature:
        kwargs['channels'] = 24
    torch.manual_seed(0)
    ref = nb.build_reference(key, **kwargs).double()
    randomise(ref, seed=len(key))
    ours = nb.from_notebook(key, ref.state_dict(), **kwargs)
    assert next(ours.parameters()).dtype == torch.float64

    x = torch.randn(3, 24, 9, 11, dtype=torch.float64) * 2
    x_ref = x.clone().requires_grad_()
    x_ours = x.clone().requires_grad_()
    ref_out = as_tuple(ref(x_ref))
    our_out = as_tuple(ours(x_ours))

    # exactly the notebook's return value: same number of outputs, each equal
    assert len(our_out) == len(ref_out), f'{len(our_out)} outputs, the notebook returns ' \
        f'{len(ref_out)} ({defn.returns})'
    for i, (ours_t, ref_t) in enumerate(zip(our_out, ref_out)):
        if ours_t is None or ref_t is None:
            assert ours_t is None and ref_t is None, f'output {i}: one side is None'
            continue
        assert_close(ours_t, ref_t, f'output {i}')

    grad = torch.randn_like(ref_out[0])
    (ref_out[0] * grad).sum().backward()
    (our_out[0] * grad).sum().backward()
    assert_close(x_ours.grad, x_ref.grad, 'input gradient')

    ref_grads = {n: p.grad for n, p in ref.named_parameters() if p.grad is not None}
    converted = nb.convert_state_dict(key, ref_grads, **kwargs) if ref_grads else {}
    for name, p in ours.named_parameters():
        assert p.grad is not None, f'{name} received no gradient'
        assert_close(p.grad, converted[name], f'gradient of {name}')
        learnable_special = any(s in name for s in ('alpha', 't_raw', 'fusion_logits', 'router'))
        if learnable_special:
            assert p.grad.abs().sum() > 0, f'{name} has an all-zero gradient'


def test_every_notebook_definition_is_covered():
    assert len(nb.NOTEBOOK_CLASSES) == 23
    covered = {c.values[0] for c in _cases()}
    assert covered == set(nb.NOTEBOOK_CLASSES)


def test_learnable_parameters_exist_where_the_notebook_has_them():
    m = nb.from_notebook('CBAMResidualDynamicSA', channels=32, learnable_alpha=True,
                         learnable_temperature=True)
    names = {n for n, _ in m.named_parameters()}
    assert {'alpha', 'ca.fusion_logits', 'ca.temperature.t_raw', 'sa.temperature.t_raw',
            'sa.router.0.weight', 'sa.router.2.weight', 'sa.branches.2.weight'} <= names


def test_parity_doc_contains_the_generated_table():
    doc = (ROOT / 'docs' / 'notebook_parity.md').read_text()
    assert nb.parity_table_markdown() in doc


def test_float32_outputs_agree():
    key = 'dynamic.CBAMResidualDynamicSA'
    ref = nb.build_reference(key, channels=64, learnable_alpha=True, return_maps=True)
    randomise(ref, 1)
    ours = nb.from_notebook(key, ref.state_dict(), channels=64, learnable_alpha=True,
                            return_maps=True)
    x = torch.randn(2, 64, 20, 20)
    for a, b in zip(ref(x), ours(x)):
        torch.testing.assert_close(b, a, atol=1e-5, rtol=1e-5)


def test_converter_rejects_mismatched_state_dict():
    ref = nb.build_reference('integrated.CBAM', channels=16)
    sd = ref.state_dict()
    sd['sa.extra.weight'] = torch.zeros(1)
    with pytest.raises(KeyError, match='unexpected keys'):
        nb.convert_state_dict('integrated.CBAM', sd, channels=16)
    sd = ref.state_dict()
    del sd['ca.fc2.weight']
    with pytest.raises(KeyError, match=r"missing keys \['ca.fc2.weight'\]"):
        nb.convert_state_dict('integrated.CBAM', sd, channels=16)


def test_definition_lookup_errors():
    with pytest.raises(KeyError, match='defined 2 times'):
        nb.get_definition('CBAM')
    with pytest.raises(KeyError, match='defined 4 times'):
        nb.get_definition('SpatialAttention')
    with pytest.raises(KeyError, match='unknown notebook class'):
        nb.get_definition('CBAMV9')
    with pytest.raises(TypeError, match="has no argument"):
        nb.notebook_config('step1.CBAM', channels=8, ca_act='silu')
    assert nb.get_definition('CBAMResidualV3').key == 'temperature.CBAMResidualV3'


# How many values each notebook class's forward returns, read off the notebook's code (step 6
# `return z, ca, sa`; integrated ChannelAttention `return y, ca, w2`; dynamic
# ChannelAttentionFusionT `return y, ca, fusion_w` only if return_fusion_weights and fusion_w is
# not None, else `return y, ca` ...): an independent check of the return specification.
NOTEBOOK_RETURNS = [
    ('step1.CBAM', {}, 1), ('step6.CBAMV3', {}, 1), ('step6.CBAMV3', dict(return_maps=True), 3),
    ('integrated.ChannelAttention', {}, 3), ('integrated.SpatialAttention', {}, 2),
    ('integrated.CBAM', {}, 1), ('integrated.CBAM', dict(return_maps=True), 4),
    ('dynamic.ChannelAttentionFusionT', {}, 2),
    ('dynamic.ChannelAttentionFusionT', dict(return_fusion_weights=True), 3),
    ('dynamic.ChannelAttentionFusionT', dict(return_fusion_weights=True, fusion='sum'), 2),
    ('dynamic.DynamicSpatialAttention', {}, 2),
    ('dynamic.DynamicSpatialAttention', dict(return_router_weights=True), 3),
    ('dynamic.CBAMResidualDynamicSA', {}, 1),
    ('dynamic.CBAMResidualDynamicSA', dict(return_maps=True), 5),
    ('temperature.CBAMResidualV3', {}, 1),
]


@pytest.mark.parametrize('key,kwargs,count', NOTEBOOK_RETURNS)
def test_from_notebook_returns_what_the_notebook_class_returns(key, kwargs, count):
    if 'channels' in nb.get_definition(key).signature:
        kwargs = dict(kwargs, channels=16)
    out = nb.from_notebook(key, **kwargs)(torch.randn(2, 16, 6, 6))
    assert (len(out) if isinstance(out, tuple) else 1) == count
    assert torch.is_tensor(out[0] if isinstance(out, tuple) else out)
