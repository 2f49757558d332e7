"""Channel attention: a shared MLP over pooled channel descriptors, fused, then ``gate(z / T)``."""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.registry import MODELS
from torch import Tensor

from ..validation import choice, names_tuple, positive_int, strict_bool
from .base import ACTIVATIONS, GATES, AttentionBase, Temperature

FUSIONS = ('sum', 'softmax')
POOLS = ('avg', 'max', 'lp', 'lse')
FUSED_POOLS = frozenset(('avg', 'max'))  # the pools the fused CBAM function differentiates


def pool_channels(xf: Tensor, pool: str) -> Tensor:
    """One channel descriptor (B, C) of ``xf`` (B, C, H*W).

    ``avg`` mean, ``max`` maximum (gradient to the first maximal element), ``lp`` the L2 norm
    ``sqrt(sum x^2)`` (the official CBAM's ``lp_pool2d`` with p=2 over the whole map) and ``lse``
    the log-sum-exp.
    """
    if pool == 'avg':
        return xf.mean(dim=2)
    if pool == 'max':
        return xf.max(dim=2).values
    if pool == 'lp':
        return torch.linalg.vector_norm(xf, ord=2, dim=2)
    return torch.logsumexp(xf, dim=2)


@MODELS.register_module()
class CBAMChannelAttention(AttentionBase):
    """Channel attention ``ca = gate(fuse(mlp(pool_1(x)), mlp(pool_2(x)), ...) / T)``.

    Args:
        in_channels: number of input channels C.
        reduction: hidden width is ``max(min_hidden, C // reduction)``.
        min_hidden: lower bound of the hidden width.
        act: ``'relu'`` | ``'silu'``.
        gate: ``'sigmoid'`` | ``'hardsigmoid'``.
        fusion: ``'sum'`` (paper) | ``'softmax'`` (learnable weights ``fusion_logits``, one per
            pool).
        pool: channel descriptors, from ``'avg'``, ``'max'``, ``'lp'``, ``'lse'`` (default
            ``('avg', 'max')``; the official CBAM code also offers ``lp`` and ``lse``).
        bias: bias in the two MLP layers.
        temperature: initial T (> 0); ``learnable_temperature`` makes it a parameter.
        return_maps: ``forward`` returns ``(x * ca, ca, fusion_w)`` (or the named maps).
        arg_prefix: prefix of the option names in error messages (``'ca_'`` inside CBAM).
        layout: ``'nchw'``, ``'nhwc'`` or ``'tokens'`` (see :class:`~.cbam.CBAM`).
        init_cfg: mmengine initialisation config.
    """
    _abbr_ = 'channel_att'
    MAP_NAMES = ('ca', 'fusion_w')

    def __init__(self, in_channels: int, reduction: int = 16, min_hidden: int = 4,
                 act: str = 'relu', gate: str = 'sigmoid', fusion: str = 'sum',
                 pool: Sequence[str] = ('avg', 'max'), bias: bool = True,
                 temperature: float = 1.0, learnable_temperature: bool = False, eps: float = 1e-6,
                 return_maps=False, arg_prefix: str = '', layout: str = 'nchw',
                 init_cfg=None):
        super().__init__(layout=layout, init_cfg=init_cfg)
        self.in_channels = positive_int('in_channels', in_channels)
        reduction = positive_int(f'{arg_prefix}reduction' if arg_prefix else 'reduction',
                                 reduction)
        if isinstance(min_hidden, bool) or not isinstance(min_hidden, int) or min_hidden < 0:
            raise ValueError(f'min_hidden must be an integer >= 0, got {min_hidden!r}')
        hidden = max(min_hidden, in_channels // reduction)
        if hidden < 1:
            raise ValueError(
                f'reduction={reduction} leaves no hidden units for in_channels={in_channels} '
                f'(hidden = max(min_hidden={min_hidden}, {in_channels} // {reduction}) = 0); '
                f'use a smaller reduction or min_hidden >= 1')
        self.hidden = hidden
        self.act_name = choice(f'{arg_prefix}act', act, ACTIVATIONS)
        self.gate_name = choice(f'{arg_prefix}gate', gate, GATES)
        self.fusion = choice(f'{arg_prefix}fusion', fusion, FUSIONS)
        self.pool = names_tuple(f'{arg_prefix}pool', pool, POOLS, 'pool type')
        bias = strict_bool(f'{arg_prefix}bias', bias)
        self.fc1 = nn.Linear(in_channels, hidden, bias=bias)
        self.act = ACTIVATIONS[self.act_name](inplace=True)
        self.fc2 = nn.Linear(hidden, in_channels, bias=bias)
        self.gate = GATES[self.gate_name]
        if self.fusion == 'softmax':
            self.fusion_logits = nn.Parameter(torch.zeros(len(self.pool)))
        else:
            self.register_parameter('fusion_logits', None)
        self.temperature = Temperature(temperature, learnable_temperature, eps,
                                       name=f'{arg_prefix}temperature')
        self.return_maps = return_maps

    @property
    def fusable(self) -> bool:
        """Whether the fused CBAM function can compute this module's descriptors."""
        return set(self.pool) <= FUSED_POOLS

    def fusion_weights(self) -> Optional[Tensor]:
        """Softmax weights of the pools (in ``pool`` order), or None for ``fusion='sum'``."""
        if self.fusion_logits is None:
            return None
        return torch.softmax(self.fusion_logits, dim=0)

    def descriptors(self, x: Tensor) -> List[Tensor]:
        """The pooled descriptors (B, C) of ``x`` (B, C, H, W), in ``pool`` order."""
        xf = x.flatten(2)  # (B, C, HW), a view in NCHW and channels_last layouts
        return [pool_channels(xf, p) for p in self.pool]

    def mask_from_descriptors(self, descs: Sequence[Tensor]) -> Tuple[Tensor, Optional[Tensor]]:
        """Channel mask (B, C) and fusion weights or None from descriptors (B, C) in pool order."""
        b = descs[0].shape[0]
        z = self.fc2(self.act(self.fc1(torch.cat(tuple(descs), dim=0))))  # (K*B, C), one MLP call
        parts = z.split(b)  # K x (B, C)
        fusion_w = self.fusion_weights()
        if fusion_w is None:
            z = parts[0]
            for part in parts[1:]:
                z = z + part
        else:
            fusion_w = fusion_w.to(z.dtype)
            z = fusion_w[0] * parts[0]
            for k in range(1, len(parts)):
                z = z + fusion_w[k] * parts[k]
        return self.gate(z / self.temperature()), fusion_w

    def mask_from_pooled(self, avg: Tensor, mx: Tensor) -> Tuple[Tensor, Optional[Tensor]]:
        """Channel mask from the avg and max descriptors (B, C), for pools within avg/max."""
        return self.mask_from_descriptors([avg if p == 'avg' else mx for p in self.pool])

    def mask(self, x: Tensor) -> Tuple[Tensor, Optional[Tensor]]:
        """Channel mask (B, C) and fusion weights for an input (B, C, H, W)."""
        self._check_channels(x, self.in_channels)
        return self.mask_from_descriptors(self.descriptors(x))

    def forward(self, x: Tensor, hw_shape=None):
        x = self._input(x, hw_shape, self.in_channels)  # (B, C, H, W) view
        ca, fusion_w = self.mask_from_descriptors(self.descriptors(x))  # (B, C)
        out = x * ca.view(*ca.shape, 1, 1).to(x.dtype)  # (B, C, H, W), keeps x's layout
        return self._output(out, x, ca=ca, fusion_w=fusion_w)
