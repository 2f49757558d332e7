"""Stability statistics of one attention module (values only; logging is the hooks' job)."""
from typing import Dict, List, Optional

import torch
from torch import Tensor

from ..attention import CBAM, CBAMChannelAttention, CBAMSpatialAttention

SATURATION_LOW = 0.05
SATURATION_HIGH = 0.95


def _parts(module):
    """(channel attention, spatial attention, alpha) of any mm_cbam attention module."""
    if isinstance(module, CBAM):
        return module.ca, module.sa, module.alpha
    if isinstance(module, CBAMChannelAttention):
        return module, None, None
    if isinstance(module, CBAMSpatialAttention):
        return None, module, None
    raise TypeError(f'not an mm_cbam attention module: {type(module).__name__}')


def saturation(stats: Dict[str, float]) -> float:
    """The larger of the channel and spatial mask saturation (fraction of values below 0.05 or
    above 0.95) in a module's statistics; 0 if no mask was recorded."""
    return max((stats.get(f'{m}_sat_lo', 0.0) + stats.get(f'{m}_sat_hi', 0.0)
                for m in ('ca', 'sa')), default=0.0)


def _mask_stats(prefix: str, mask: Tensor, out: Dict[str, Tensor]):
    m = mask.float()
    out[f'{prefix}_mean'] = m.mean()
    out[f'{prefix}_std'] = m.std() if m.numel() > 1 else m.new_zeros(())
    out[f'{prefix}_sat_lo'] = (m < SATURATION_LOW).float().mean()
    out[f'{prefix}_sat_hi'] = (m > SATURATION_HIGH).float().mean()


def module_statistics(module, grad_norm: Optional[Tensor] = None) -> Dict[str, float]:
    """Parameters and (if recorded) mask statistics of an attention module.

    Keys: ``alpha``; ``ca_T`` / ``sa_T`` (temperatures); ``fusion_avg`` / ``fusion_max``
    (softmax fusion weights); ``router_w{k}`` (batch mean weight of dynamic branch k) and
    ``router_entropy`` (batch mean entropy of the router weights, nats); ``ca_*`` / ``sa_*``
    mask ``mean``, ``std``, ``sat_lo`` (fraction < 0.05), ``sat_hi`` (fraction > 0.95);
    ``contribution`` (||out - x|| / ||x||: how much the module changes its input);
    ``gnorm`` (gradient norm of the module's parameters, when given); ``nonfinite``
    (1 if any parameter, map or the output is NaN/Inf).

    All values are gathered with one device-to-host transfer.
    """
    ca, sa, alpha = _parts(module)
    values: Dict[str, Tensor] = {}
    if alpha is not None:
        values['alpha'] = alpha.detach().float()
    if ca is not None:
        values['ca_T'] = ca.temperature().detach().float()
        fusion_w = ca.fusion_weights()
        if fusion_w is not None:
            values['fusion_avg'], values['fusion_max'] = fusion_w.detach().float()
    if sa is not None:
        values['sa_T'] = sa.temperature().detach().float()
    finite: List[Tensor] = [torch.isfinite(p.detach()).all() for p in module.parameters()]
    maps = module.last_maps or {}
    if maps.get('ca') is not None:
        _mask_stats('ca', maps['ca'], values)
        finite.append(torch.isfinite(maps['ca']).all())
    if maps.get('sa') is not None:
        _mask_stats('sa', maps['sa'], values)
        finite.append(torch.isfinite(maps['sa']).all())
    if maps.get('router_w') is not None:
        rw = maps['router_w'].float()
        for k, w in enumerate(rw.mean(dim=0)):
            values[f'router_w{k}'] = w
        values['router_entropy'] = -(rw * rw.clamp_min(1e-12).log()).sum(dim=1).mean()
    if maps.get('out_finite') is not None:
        finite.append(maps['out_finite'])
    if maps.get('contribution') is not None:
        values['contribution'] = maps['contribution'].float()
    if grad_norm is not None:
        values['gnorm'] = grad_norm.detach().float()
    values['nonfinite'] = (~torch.stack(finite).all()).float() if finite else torch.zeros(())
    device = next(iter(values.values())).device
    numbers = torch.stack([v.reshape(()).to(device) for v in values.values()]).tolist()
    return dict(zip(values, numbers))
