"""Literal ("naive") implementations of the specification notebook's attention math.

These modules follow the notebook's formulas step by step -- two MLP calls for avg and max,
``torch.cat`` of the spatial descriptor, one convolution per dynamic branch, ``torch.stack`` of the
branch logits, ``x + alpha * (y - x)`` -- and use the notebook's parameter and buffer names, so a
``state_dict`` of any notebook class can be reproduced with them. They are slow on purpose and
exist for three uses only: the parity tests, the converter's tests and the speed/memory benchmark
(``tools/analysis/benchmark_attention.py``). Models should use :mod:`mm_cbam.attention.cbam`.

Naming styles found in the notebook (``names`` argument):

* channel MLP: ``'mlp'`` (``mlp.0`` / ``mlp.2``, step 1 and the residual cell) or ``'fc'``;
* ``fusion_logits``: present always (``'always'``: ChannelAttentionV2 / integrated CBAM), only for
  softmax fusion (``'softmax'``), or never (``'none'``, classes without fusion);
* temperature: ``'none'`` or ``'T'`` (buffer ``T`` / parameter ``t_raw``).
"""
import math
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

_GATES = {'sigmoid': torch.sigmoid, 'hardsigmoid': F.hardsigmoid}


class _Returns:
    """What ``forward`` returns. ``returns=None`` (default): ``(out, *every map)``, the form the
    naive modules use internally; a tuple of map names: exactly ``(out, *those maps)``, or ``out``
    alone for ``()`` -- set by ``notebook.build_reference`` to the notebook class's own return
    value."""
    returns = None

    def _ret(self, out, **maps):
        if self.returns is None:
            return (out, *maps.values())
        if not self.returns:
            return out
        return (out, *(maps[name] for name in self.returns))


class _NotebookTemperature:
    """Mixin: the notebook's T buffer or ``t_raw`` parameter (``log(exp(T) - 1 + eps)``)."""

    def _init_temperature(self, temperature, learnable, eps):
        self.eps = eps
        self.learnable_temperature = learnable
        if learnable:
            self.t_raw = nn.Parameter(torch.tensor(math.log(math.exp(temperature) - 1.0 + eps)))
        else:
            self.register_buffer('T', torch.tensor(float(temperature)))

    def _get_T(self):
        if self.learnable_temperature:
            return F.softplus(self.t_raw) + self.eps
        return self.T


class NaiveChannelAttention(nn.Module, _NotebookTemperature, _Returns):
    """``x * gate(fuse(mlp(avg(x)), mlp(max(x))) / T)`` with conv 1x1 MLP layers."""

    def __init__(self, channels: int, reduction: int = 16, min_hidden: int = 4,
                 act: str = 'relu', gate: str = 'sigmoid', fusion: str = 'sum', bias: bool = True,
                 temperature=None, learnable_temperature: bool = False, eps: float = 1e-6,
                 mlp_names: str = 'fc', fusion_param: str = 'softmax'):
        super().__init__()
        hidden = max(min_hidden, channels // reduction)
        self.avg = nn.AdaptiveAvgPool2d(1)
        self.mx = nn.AdaptiveMaxPool2d(1)
        fc1 = nn.Conv2d(channels, hidden, 1, bias=bias)
        act_layer = nn.ReLU(inplace=True) if act == 'relu' else nn.SiLU(inplace=True)
        fc2 = nn.Conv2d(hidden, channels, 1, bias=bias)
        if mlp_names == 'mlp':
            self.mlp = nn.Sequential(fc1, act_layer, fc2)
        else:
            self.fc1, self.act, self.fc2 = fc1, act_layer, fc2
        self.gate_fn = _GATES[gate]
        self.fusion = fusion
        if fusion_param == 'always' or (fusion_param == 'softmax' and fusion == 'softmax'):
            self.fusion_logits = nn.Parameter(torch.zeros(2))
        self.has_temperature = temperature is not None
        if self.has_temperature:
            self._init_temperature(temperature, learnable_temperature, eps)

    def _mlp(self, s):
        if hasattr(self, 'mlp'):
            return self.mlp(s)
        return self.fc2(self.act(self.fc1(s)))

    def forward(self, x):
        a = self._mlp(self.avg(x))
        m = self._mlp(self.mx(x))
        fusion_w = None
        if self.fusion == 'sum':
            z = a + m
        else:
            fusion_w = torch.softmax(self.fusion_logits, dim=0)
            z = fusion_w[0] * a + fusion_w[1] * m
        if self.has_temperature:
            z = z / self._get_T()
        ca = self.gate_fn(z)
        return self._ret(x * ca, ca=ca, fusion_w=fusion_w)


class NaiveSpatialAttention(nn.Module, _NotebookTemperature, _Returns):
    """``x * gate(conv(cat[mean_c(x), max_c(x)]) / T)``; attribute ``conv``."""

    def __init__(self, kernel_size: int = 7, gate: str = 'sigmoid', bias: bool = False,
                 temperature=None, learnable_temperature: bool = False, eps: float = 1e-6):
        super().__init__()
        if kernel_size % 2 == 0:
            kernel_size += 1
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=bias)
        self.gate_fn = _GATES[gate]
        self.has_temperature = temperature is not None
        if self.has_temperature:
            self._init_temperature(temperature, learnable_temperature, eps)

    def forward(self, x):
        avg_map = torch.mean(x, dim=1, keepdim=True)
        max_map, _ = torch.max(x, dim=1, keepdim=True)
        z = self.conv(torch.cat([avg_map, max_map], dim=1))
        if self.has_temperature:
            z = z / self._get_T()
        sa = self.gate_fn(z)
        return self._ret(x * sa, sa=sa)


class NaiveDynamicSpatialAttention(nn.Module, _NotebookTemperature, _Returns):
    """Branch convs ``branches.i`` + router ``Sequential(pool, conv, ReLU, conv)``."""

    def __init__(self, kernels: Sequence[int] = (3, 7), use_dilated: bool = True,
                 dilated_kernel: int = 7, dilated_d: int = 2, gate: str = 'sigmoid',
                 temperature: float = 1.0, learnable_temperature: bool = False, eps: float = 1e-6,
                 router_hidden: int = 8, bias: bool = True):
        super().__init__()
        specs = [(k + 1 if k % 2 == 0 else k, 1) for k in kernels]
        if use_dilated:
            k = dilated_kernel + 1 if dilated_kernel % 2 == 0 else dilated_kernel
            specs.append((k, dilated_d))
        self.branches = nn.ModuleList(
            nn.Conv2d(2, 1, k, padding=d * (k - 1) // 2, dilation=d, bias=False) for k, d in specs)
        self.gate_fn = _GATES[gate]
        self._init_temperature(temperature, learnable_temperature, eps)
        self.router = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(2, router_hidden, 1, bias=bias),
            nn.ReLU(inplace=True), nn.Conv2d(router_hidden, len(specs), 1, bias=bias))

    def forward(self, x):
        avg_map = torch.mean(x, dim=1, keepdim=True)
        max_map, _ = torch.max(x, dim=1, keepdim=True)
        s = torch.cat([avg_map, max_map], dim=1)
        rw = torch.softmax(self.router(s).flatten(1), dim=1)
        z = torch.stack([br(s) for br in self.branches], dim=1)
        logit = (rw[:, :, None, None, None] * z).sum(dim=1)
        sa = self.gate_fn(logit / self._get_T())
        return self._ret(x * sa, sa=sa, router_w=rw)


class NaiveCBAM(nn.Module, _Returns):
    """``ca`` then ``sa`` (either spatial kind), optional ``x + alpha * (y - x)``."""

    def __init__(self, ca: nn.Module, sa: nn.Module, residual: bool = False,
                 alpha_init: float = 1.0, learnable_alpha: bool = False):
        super().__init__()
        self.ca, self.sa = ca, sa
        self.residual = residual
        if residual:
            if learnable_alpha:
                self.alpha = nn.Parameter(torch.tensor(float(alpha_init)))
            else:
                self.register_buffer('alpha', torch.tensor(float(alpha_init)))

    def forward(self, x):
        y, ca, fusion_w = self.ca(x)
        y, sa, *router_w = self.sa(y)
        out = x + self.alpha * (y - x) if self.residual else y
        maps = dict(ca=ca, sa=sa, fusion_w=fusion_w)
        if router_w:
            maps['router_w'] = router_w[0]
        return self._ret(out, **maps)


class NaiveCBAMFlat(nn.Module, _Returns):
    """CBAMV3's flat layout: ``fc1``, ``fc2``, ``sa_conv`` directly on the module."""

    def __init__(self, channels: int, reduction: int = 16, sa_kernel: int = 7):
        super().__init__()
        self.avg = nn.AdaptiveAvgPool2d(1)
        self.mx = nn.AdaptiveMaxPool2d(1)
        hidden = max(4, channels // reduction)
        self.fc1 = nn.Conv2d(channels, hidden, 1, bias=True)
        self.act = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(hidden, channels, 1, bias=True)
        if sa_kernel % 2 == 0:
            sa_kernel += 1
        self.sa_conv = nn.Conv2d(2, 1, sa_kernel, padding=sa_kernel // 2, bias=False)

    def forward(self, x):
        mlp = lambda s: self.fc2(self.act(self.fc1(s)))  # noqa: E731
        ca = torch.sigmoid(mlp(self.avg(x)) + mlp(self.mx(x)))
        y = x * ca
        avg_map = torch.mean(y, dim=1, keepdim=True)
        max_map, _ = torch.max(y, dim=1, keepdim=True)
        sa = torch.sigmoid(self.sa_conv(torch.cat([avg_map, max_map], dim=1)))
        return self._ret(y * sa, ca=ca, sa=sa, fusion_w=None)
