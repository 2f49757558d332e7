"""CBAM and its stabilised variants as configurations of three modules.

* :class:`ChannelAttention` -- shared MLP over avg- and max-pooled descriptors, fused by a plain sum
  (the paper) or by softmax-normalised learnable weights, then ``gate(z / T)``.
* :class:`SpatialAttention` -- a 2->1 convolution over ``[mean_c, max_c]``; with several kernels it
  becomes the dynamic spatial attention: a per-sample router mixes the branch logits.
* :class:`CBAM` -- channel then spatial attention, optionally mixed residually
  ``x + alpha * (y - x)`` with a fixed or learnable alpha.

Every variant of the specification notebook is one set of arguments to these classes
(see ``docs/notebook_parity.md``). Options are validated at construction; the names of the
arguments follow the notebook (``ca_*`` / ``sa_*``) and mmcv's plugin convention (``in_channels``).

Attention maps are exposed two ways:

* ``return_maps=True`` makes ``forward`` return ``(out, ca, sa, fusion_w[, router_w])`` as the
  notebook does (for stand-alone use and analysis; in :class:`CBAM` the maps are detached, all
  gradients flow through ``out``);
* :func:`record_attention` switches modules inside a model into *recording* mode, in which the
  usual tensor is returned and the detached maps of the last forward are kept in ``last_maps``
  (``ca`` (B, C), ``sa`` (B, 1, H, W), ``fusion_w`` (2,), ``router_w`` (B, K), and ``out_finite``,
  a 0-d bool tensor).
  Recording is off by default and costs nothing when off; the stability hooks turn it on only for
  the iterations they log.
"""
import contextlib
import math
from typing import Dict, Iterator, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from .functional import cbam

ACTIVATIONS = {'relu': nn.ReLU, 'silu': nn.SiLU}
GATES = {'sigmoid': torch.sigmoid, 'hardsigmoid': F.hardsigmoid}
FUSIONS = ('sum', 'softmax')


def _choice(name: str, value, allowed) -> str:
    key = value.lower() if isinstance(value, str) else value
    if key not in allowed:
        allowed_str = ', '.join(repr(a) for a in allowed)
        raise ValueError(f'{name}={value!r} is not supported; allowed values: {allowed_str}')
    return key


def _positive_int(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f'{name} must be an integer >= {minimum}, got {value!r}')
    return value


def _positive_float(name: str, value) -> float:
    try:
        value_f = float(value)
    except (TypeError, ValueError):
        raise ValueError(f'{name} must be a positive number, got {value!r}') from None
    if not value_f > 0 or not math.isfinite(value_f):
        raise ValueError(f'{name} must be a positive finite number, got {value!r}')
    return value_f


def make_act(name: str) -> nn.Module:
    """Activation layer factory: ``'relu'`` or ``'silu'``."""
    return ACTIVATIONS[_choice('act', name, ACTIVATIONS)](inplace=True)


def get_gate(name: str):
    """Gate function factory: ``'sigmoid'`` or ``'hardsigmoid'``."""
    return GATES[_choice('gate', name, GATES)]


def inverse_softplus(value: float) -> float:
    """``t`` such that ``softplus(t) == value`` (numerically stable for large values)."""
    return value + math.log(-math.expm1(-value))


class Temperature(nn.Module):
    """Gate temperature ``T`` used as ``gate(z / T)``.

    Fixed: a buffer ``T``. Learnable: ``T = softplus(t_raw) + eps``, so ``T`` stays positive;
    ``t_raw`` is initialised so that ``T`` starts exactly at ``init``.
    """

    def __init__(self, init: float = 1.0, learnable: bool = False, eps: float = 1e-6,
                 name: str = 'temperature'):
        super().__init__()
        init = _positive_float(name, init)
        self.learnable = bool(learnable)
        self.eps = float(eps)
        if self.learnable:
            if init <= self.eps:
                raise ValueError(
                    f'{name} must be greater than eps={eps} when learnable, got {init}')
            self.t_raw = nn.Parameter(torch.tensor(inverse_softplus(init - self.eps)))
        else:
            self.register_buffer('T', torch.tensor(init))

    def forward(self) -> Tensor:
        if self.learnable:
            return F.softplus(self.t_raw) + self.eps
        return self.T

    def extra_repr(self) -> str:
        return f'learnable={self.learnable}'


class _AttentionBase(nn.Module):
    """Shared recording behaviour: ``last_maps`` holds detached maps while recording."""

    def __init__(self):
        super().__init__()
        self.recording = False
        self.last_maps: Optional[Dict[str, Optional[Tensor]]] = None

    def _record(self, out: Tensor, **maps):
        """While recording, keep detached maps and whether the output is finite."""
        if self.recording:
            self.last_maps = {k: (v.detach() if v is not None else None) for k, v in maps.items()}
            self.last_maps['out_finite'] = torch.isfinite(out.detach()).all()

    def _check_channels(self, x: Tensor, expected: Optional[int]):
        if x.dim() != 4:
            raise ValueError(f'{type(self).__name__} expects a 4-D (N, C, H, W) input, '
                             f'got shape {tuple(x.shape)}')
        if expected is not None and x.shape[1] != expected:
            raise ValueError(f'{type(self).__name__} was built with in_channels={expected} but '
                             f'received an input with {x.shape[1]} channels '
                             f'(shape {tuple(x.shape)})')


class ChannelAttention(_AttentionBase):
    """Channel attention ``ca = gate(fuse(mlp(avg(x)), mlp(max(x))) / T)``.

    Args:
        in_channels: number of input channels C.
        reduction: hidden width is ``max(min_hidden, C // reduction)``.
        min_hidden: lower bound of the hidden width.
        act: ``'relu'`` | ``'silu'``.
        gate: ``'sigmoid'`` | ``'hardsigmoid'``.
        fusion: ``'sum'`` (paper) | ``'softmax'`` (learnable avg/max weights ``fusion_logits``).
        bias: bias in the two MLP layers.
        temperature: initial T (> 0); ``learnable_temperature`` makes it a parameter.
        return_maps: ``forward`` returns ``(x * ca, ca, fusion_w)``.
        arg_prefix: prefix of the option names in error messages (``'ca_'`` inside CBAM).
    """
    _abbr_ = 'channel_att'

    def __init__(self, in_channels: int, reduction: int = 16, min_hidden: int = 4,
                 act: str = 'relu', gate: str = 'sigmoid', fusion: str = 'sum', bias: bool = True,
                 temperature: float = 1.0, learnable_temperature: bool = False, eps: float = 1e-6,
                 return_maps: bool = False, arg_prefix: str = ''):
        super().__init__()
        self.in_channels = _positive_int('in_channels', in_channels)
        reduction = _positive_int('reduction', reduction)
        if isinstance(min_hidden, bool) or not isinstance(min_hidden, int) or min_hidden < 0:
            raise ValueError(f'min_hidden must be an integer >= 0, got {min_hidden!r}')
        hidden = max(min_hidden, in_channels // reduction)
        if hidden < 1:
            raise ValueError(
                f'reduction={reduction} leaves no hidden units for in_channels={in_channels} '
                f'(hidden = max(min_hidden={min_hidden}, {in_channels} // {reduction}) = 0); '
                f'use a smaller reduction or min_hidden >= 1')
        self.hidden = hidden
        self.act_name = _choice(f'{arg_prefix}act', act, ACTIVATIONS)
        self.gate_name = _choice(f'{arg_prefix}gate', gate, GATES)
        self.fusion = _choice(f'{arg_prefix}fusion', fusion, FUSIONS)
        self.return_maps = return_maps
        self.fc1 = nn.Linear(in_channels, hidden, bias=bias)
        self.act = make_act(self.act_name)
        self.fc2 = nn.Linear(hidden, in_channels, bias=bias)
        self.gate = GATES[self.gate_name]
        if self.fusion == 'softmax':
            self.fusion_logits = nn.Parameter(torch.zeros(2))
        else:
            self.register_parameter('fusion_logits', None)
        self.temperature = Temperature(temperature, learnable_temperature, eps,
                                       name=f'{arg_prefix}temperature')

    def fusion_weights(self) -> Optional[Tensor]:
        """Softmax weights of (avg, max), or None for ``fusion='sum'``."""
        if self.fusion_logits is None:
            return None
        return torch.softmax(self.fusion_logits, dim=0)

    def mask_from_pooled(self, avg: Tensor, mx: Tensor) -> Tuple[Tensor, Optional[Tensor]]:
        """Channel mask (B, C) and fusion weights (2,) or None from avg/max descriptors (B, C)."""
        b = avg.shape[0]
        z = self.fc2(self.act(self.fc1(torch.cat((avg, mx), dim=0))))  # one MLP call for both
        fusion_w = self.fusion_weights()
        if fusion_w is None:
            z = z[:b] + z[b:]
        else:
            fusion_w = fusion_w.to(z.dtype)
            z = fusion_w[0] * z[:b] + fusion_w[1] * z[b:]
        return self.gate(z / self.temperature()), fusion_w

    def mask(self, x: Tensor) -> Tuple[Tensor, Optional[Tensor]]:
        """Channel mask (B, C) and fusion weights for an input (B, C, H, W)."""
        self._check_channels(x, self.in_channels)
        return self.mask_from_pooled(x.mean(dim=(2, 3)), F.adaptive_max_pool2d(x, 1).flatten(1))

    def forward(self, x: Tensor):
        ca, fusion_w = self.mask(x)
        out = x * ca.view(*ca.shape, 1, 1).to(x.dtype)
        self._record(out, ca=ca, fusion_w=fusion_w)
        if self.return_maps:
            return out, ca.view(*ca.shape, 1, 1), fusion_w
        return out


def _as_tuple(name: str, value) -> Tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        return (value, )
    if isinstance(value, (list, tuple)) and len(value) > 0:
        return tuple(value)
    raise ValueError(f'{name} must be an int or a non-empty sequence of ints, got {value!r}')


class SpatialAttention(_AttentionBase):
    """Spatial attention over the descriptor ``s = [mean_c(x), max_c(x)]`` (B, 2, H, W).

    With one kernel this is CBAM's spatial attention ``gate(conv(s) / T)``. With several kernels
    (e.g. ``kernels=(3, 7, 7), dilations=(1, 1, 2)``) it is the dynamic spatial attention: each
    branch is a 2->1 convolution, a router ``avgpool(s) -> fc -> ReLU -> fc -> softmax`` gives
    per-sample branch weights ``router_w`` (B, K), and the mask is
    ``gate(sum_k w_k conv_k(s) / T)``.
    Because convolution is linear in its weights, the weighted sum of branch logits is computed as
    one grouped convolution with per-sample mixed kernels (no (B, K, H, W) stack of logits).

    Args:
        kernels: kernel size or sizes (>= 1; even sizes are bumped to the next odd size, as in
            the notebook, so that the mask keeps the input's size).
        dilations: dilation per kernel (>= 1), default all 1.
        gate: ``'sigmoid'`` | ``'hardsigmoid'``.
        bias: bias in the branch convolutions.
        temperature / learnable_temperature / eps: see :class:`Temperature`.
        router_hidden: hidden width of the router (dynamic only, >= 1).
        router_bias: bias in the router layers.
        in_channels: optional; when given (plugin use) inputs are checked against it.
        return_maps: ``forward`` returns ``(x * sa, sa)`` or ``(x * sa, sa, router_w)``.
        arg_prefix: prefix of the option names in error messages (``'sa_'`` inside CBAM).
    """
    _abbr_ = 'spatial_att'

    def __init__(self, kernels: Union[int, Sequence[int]] = 7,
                 dilations: Optional[Union[int, Sequence[int]]] = None, gate: str = 'sigmoid',
                 bias: bool = False, temperature: float = 1.0, learnable_temperature: bool = False,
                 eps: float = 1e-6, router_hidden: int = 8, router_bias: bool = True,
                 in_channels: Optional[int] = None, return_maps: bool = False,
                 arg_prefix: str = ''):
        super().__init__()
        pre = arg_prefix
        kernels = _as_tuple(f'{pre}kernels', kernels)
        dilations = _as_tuple(f'{pre}dilations', dilations) if dilations is not None else (
            1, ) * len(kernels)
        if len(dilations) != len(kernels):
            raise ValueError(f'{pre}dilations {dilations} must have one entry per kernel in '
                             f'{pre}kernels {kernels}')
        ks = []
        for k in kernels:
            k = _positive_int(f'every kernel size in {pre}kernels', k)
            ks.append(k + 1 if k % 2 == 0 else k)
        for d in dilations:
            _positive_int(f'every dilation in {pre}dilations', d)
        self.kernels, self.dilations = tuple(ks), tuple(dilations)
        self.in_channels = None if in_channels is None else _positive_int(
            'in_channels', in_channels)
        self.gate_name = _choice(f'{pre}gate', gate, GATES)
        self.gate = GATES[self.gate_name]
        self.return_maps = return_maps
        self.branches = nn.ModuleList(
            nn.Conv2d(2, 1, k, padding=d * (k - 1) // 2, dilation=d, bias=bias)
            for k, d in zip(self.kernels, self.dilations))
        if self.dynamic:
            router_hidden = _positive_int(f'{pre}router_hidden', router_hidden)
            self.router = nn.Sequential(
                nn.Linear(2, router_hidden, bias=router_bias), nn.ReLU(inplace=True),
                nn.Linear(router_hidden, len(self.kernels), bias=router_bias))
        else:
            self.router = None
        self.temperature = Temperature(temperature, learnable_temperature, eps,
                                       name=f'{pre}temperature')
        # Size of the common kernel that holds every (dilated) branch for the single conv call.
        self._span = max(d * (k - 1) + 1 for k, d in zip(self.kernels, self.dilations))

    @property
    def dynamic(self) -> bool:
        return len(self.kernels) > 1

    def _stacked_weight(self) -> Tensor:
        """Branch kernels embedded, dilated and centred, in one (K, 2, span, span) tensor."""
        span = self._span
        parts = []
        for conv, k, d in zip(self.branches, self.kernels, self.dilations):
            w = conv.weight[0]
            if d > 1 or k < span:
                full = w.new_zeros(2, span, span)
                off = (span - (d * (k - 1) + 1)) // 2
                full[:, off:off + d * (k - 1) + 1:d, off:off + d * (k - 1) + 1:d] = w
                w = full
            parts.append(w)
        return torch.stack(parts)

    def mask_from_descriptor(self, s: Tensor) -> Tuple[Tensor, Optional[Tensor]]:
        """Spatial mask (B, 1, H, W) and router weights (B, K) or None, from ``s`` (B, 2, H, W)."""
        if not self.dynamic:
            z = self.branches[0](s)
            router_w = None
        else:
            b, _, h, w = s.shape
            router_w = torch.softmax(self.router(s.mean(dim=(2, 3))), dim=1)  # (B, K)
            weight = torch.einsum('bk,kchw->bchw', router_w, self._stacked_weight().to(s.dtype))
            bias = None
            if self.branches[0].bias is not None:
                bias = router_w @ torch.cat([c.bias for c in self.branches]).to(s.dtype)
            z = F.conv2d(s.reshape(1, b * 2, h, w), weight, bias, padding=self._span // 2,
                         groups=b).view(b, 1, h, w)
        return self.gate(z / self.temperature()), router_w

    def forward(self, x: Tensor):
        self._check_channels(x, self.in_channels)
        s = torch.cat((x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)), dim=1)
        sa, router_w = self.mask_from_descriptor(s)
        out = x * sa.to(x.dtype)
        self._record(out, sa=sa, router_w=router_w)
        if self.return_maps:
            return (out, sa) if router_w is None else (out, sa, router_w)
        return out


class CBAM(_AttentionBase):
    """Convolutional Block Attention Module with the notebook's stabilised variants.

    ``y = SA(CA(x))``; output ``y`` (``residual=False``) or ``x + alpha * (y - x)``.
    ``alpha`` is a buffer (fixed) or a parameter (``learnable_alpha=True``); ``alpha_init=0`` with
    ``residual=True`` makes the module an exact identity at initialisation.

    Args:
        in_channels: channels of the input (passed by mmdet/mmseg plugin builders).
        reduction, min_hidden: MLP hidden width ``max(min_hidden, C // reduction)``.
        ca_act, ca_gate, ca_fusion, ca_bias, ca_temperature: channel attention options
            (see :class:`ChannelAttention`).
        sa_kernels, sa_dilations, sa_gate, sa_bias, sa_temperature, sa_router_hidden,
        sa_router_bias: spatial attention options (see :class:`SpatialAttention`); several
            kernels select the dynamic multi-branch spatial attention.
        learnable_temperature: makes both temperatures learnable.
        residual, alpha_init, learnable_alpha: residual mixing.
        return_maps: ``forward`` returns ``(out, ca, sa, fusion_w)``, plus ``router_w`` when the
            spatial attention is dynamic. Keep False inside backbones (plugins return tensors);
            use :func:`record_attention` to read maps from a model.
    """
    _abbr_ = 'cbam'

    def __init__(self, in_channels: int, reduction: int = 16, min_hidden: int = 4,
                 ca_act: str = 'relu', ca_gate: str = 'sigmoid', ca_fusion: str = 'sum',
                 ca_bias: bool = True, ca_temperature: float = 1.0,
                 sa_kernels: Union[int, Sequence[int]] = 7,
                 sa_dilations: Optional[Union[int, Sequence[int]]] = None,
                 sa_gate: str = 'sigmoid', sa_bias: bool = False, sa_temperature: float = 1.0,
                 sa_router_hidden: int = 8, sa_router_bias: bool = True,
                 learnable_temperature: bool = False, residual: bool = False,
                 alpha_init: float = 1.0, learnable_alpha: bool = False, eps: float = 1e-6,
                 return_maps: bool = False):
        super().__init__()
        self.in_channels = _positive_int('in_channels', in_channels)
        self.ca = ChannelAttention(
            in_channels, reduction=reduction, min_hidden=min_hidden, act=ca_act, gate=ca_gate,
            fusion=ca_fusion, bias=ca_bias, temperature=ca_temperature,
            learnable_temperature=learnable_temperature, eps=eps, arg_prefix='ca_')
        self.sa = SpatialAttention(
            sa_kernels, sa_dilations, gate=sa_gate, bias=sa_bias, temperature=sa_temperature,
            learnable_temperature=learnable_temperature, eps=eps, router_hidden=sa_router_hidden,
            router_bias=sa_router_bias, arg_prefix='sa_')
        self.residual = bool(residual)
        self.return_maps = return_maps
        if self.residual:
            try:
                alpha = float(alpha_init)
            except (TypeError, ValueError):
                raise ValueError(f'alpha_init must be a number, got {alpha_init!r}') from None
            if not math.isfinite(alpha):
                raise ValueError(f'alpha_init must be finite, got {alpha_init!r}')
            if learnable_alpha:
                self.alpha = nn.Parameter(torch.tensor(alpha))
            else:
                self.register_buffer('alpha', torch.tensor(alpha))
        else:
            if learnable_alpha:
                raise ValueError('learnable_alpha=True requires residual=True')
            self.alpha = None

    def forward(self, x: Tensor):
        self._check_channels(x, self.in_channels)
        out, ca, sa, fusion_w, router_w = cbam(
            x, self.ca.mask_from_pooled, self.sa.mask_from_descriptor, self.alpha,
            list(self.ca.parameters()), list(self.sa.parameters()))
        self._record(out, ca=ca, sa=sa, fusion_w=fusion_w, router_w=router_w)
        if self.return_maps:
            maps = (out, ca.view(*ca.shape, 1, 1), sa, fusion_w)
            return maps + (router_w, ) if self.sa.dynamic else maps
        return out


ATTENTION_TYPES = (CBAM, ChannelAttention, SpatialAttention)


def attention_modules(model: nn.Module) -> Iterator[Tuple[str, _AttentionBase]]:
    """Top-level mm_cbam attention modules of ``model`` (the CA/SA inside a CBAM are skipped)."""
    skip = []
    for name, module in model.named_modules():
        if any(name.startswith(p + '.') for p in skip):
            continue
        if isinstance(module, _AttentionBase):
            skip.append(name)
            yield name, module


@contextlib.contextmanager
def record_attention(model: nn.Module, enabled: bool = True):
    """Within the context, attention modules of ``model`` keep their last maps in ``last_maps``."""
    modules = [m for _, m in attention_modules(model)]
    previous = [m.recording for m in modules]
    for m in modules:
        m.recording = enabled
    try:
        yield modules
    finally:
        for m, prev in zip(modules, previous):
            m.recording = prev
            if not prev:
                m.last_maps = None
