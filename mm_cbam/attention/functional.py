"""Memory-lean autograd kernels for the two full-size steps of CBAM.

A literal CBAM (``y = x * ca; s = [mean_c(y), max_c(y)]; out = x + alpha * (y * sa - x)``)
materialises and saves several tensors of the input's full size for backward: ``y``, ``y * sa``
and, with a learnable alpha, ``y * sa - x``. Only the input ``x`` and the two small masks are
needed to compute every gradient, so the two steps that touch full-size data are written as
autograd functions that save just ``x``, the masks and the (small) arg-max indices, and recompute
the rest in backward with batched matrix products instead of full-size temporaries:

* :func:`scaled_channel_pool` -- the spatial descriptor ``[mean_c(x * ca), max_c(x * ca)]``;
* :func:`modulate` -- ``x * ca * sa`` with optional residual mixing ``x + alpha * (x*ca*sa - x)``.

Both are exact reformulations (float64 results agree with the literal form to rounding).
"""
from typing import Optional, Tuple

import torch
from torch import Tensor
from torch.autograd import Function


def _bmm_channel(x: Tensor, w: Tensor) -> Tensor:
    """``sum_c x[b, c, p] * w[b, c]`` for ``x`` of shape (B, C, P), ``w`` (B, C) -> (B, P)."""
    return torch.bmm(w.unsqueeze(1), x).squeeze(1)


def _bmm_spatial(x: Tensor, w: Tensor) -> Tensor:
    """``sum_p x[b, c, p] * w[b, p]`` for ``x`` of shape (B, C, P), ``w`` (B, P) -> (B, C)."""
    return torch.bmm(x, w.unsqueeze(2)).squeeze(2)


class _ScaledChannelPool(Function):

    @staticmethod
    def forward(ctx, x: Tensor, scale: Tensor) -> Tensor:
        b, c, h, w = x.shape
        scale = scale.to(x.dtype)
        xf = x.reshape(b, c, h * w)
        mean = _bmm_channel(xf, scale).div_(c)
        # The channel max needs the product; it is a transient, never saved.
        mx, idx = (xf * scale.unsqueeze(2)).max(dim=1)
        ctx.save_for_backward(x, scale, idx)
        return torch.stack((mean, mx), dim=1).view(b, 2, h, w)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tuple[Optional[Tensor], Optional[Tensor]]:
        x, scale, idx = ctx.saved_tensors
        b, c, h, w = x.shape
        grad = grad.reshape(b, 2, h * w).to(x.dtype)
        g_mean = grad[:, 0] / c
        g_max = grad[:, 1]
        xf = x.reshape(b, c, h * w)
        grad_x = grad_scale = None
        if ctx.needs_input_grad[0]:
            grad_x = scale.unsqueeze(2) * g_mean.unsqueeze(1)
            picked_scale = scale.gather(1, idx)
            grad_x.scatter_add_(1, idx.unsqueeze(1), (picked_scale * g_max).unsqueeze(1))
            grad_x = grad_x.view(b, c, h, w)
        if ctx.needs_input_grad[1]:
            grad_scale = _bmm_spatial(xf, g_mean)
            picked_x = xf.gather(1, idx.unsqueeze(1)).squeeze(1)
            grad_scale.scatter_add_(1, idx, picked_x * g_max)
        return grad_x, grad_scale


class _Modulate(Function):

    @staticmethod
    def forward(ctx, x: Tensor, ca: Tensor, sa: Tensor, alpha: Optional[Tensor]) -> Tensor:
        b, c, h, w = x.shape
        ca = ca.to(x.dtype)
        sa = sa.to(x.dtype)
        if alpha is None:
            out = torch.mul(x, ca.view(b, c, 1, 1)).mul_(sa)
        else:
            a = alpha.to(x.dtype)
            out = torch.mul(x, (ca * a).view(b, c, 1, 1)).mul_(sa)
            out.addcmul_(x, 1 - a)
        ctx.has_alpha = alpha is not None
        ctx.save_for_backward(x, ca, sa, alpha if alpha is not None else x.new_empty(0))
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):
        x, ca, sa, alpha = ctx.saved_tensors
        b, c, h, w = x.shape
        grad = grad.to(x.dtype)
        a = alpha.to(x.dtype) if ctx.has_alpha else None
        need_x, need_ca, need_sa, need_alpha = ctx.needs_input_grad[:4]
        grad_x = grad_ca = grad_sa = grad_alpha = None
        if need_x:
            if a is None:
                grad_x = torch.mul(grad, ca.view(b, c, 1, 1)).mul_(sa)
            else:
                grad_x = torch.mul(grad, (ca * a).view(b, c, 1, 1)).mul_(sa)
                grad_x.addcmul_(grad, 1 - a)
        if need_ca or need_sa or need_alpha:
            gx = (grad * x).reshape(b, c, h * w)  # backward-only transient
            saf = sa.reshape(b, h * w)
            # P = sum_c gx * ca  (B, HW) ; Q = sum_hw gx * sa  (B, C)
            p = _bmm_channel(gx, ca) if (need_sa or need_alpha) else None
            if need_ca:
                q = _bmm_spatial(gx, saf)
                grad_ca = q if a is None else q * a
            if need_sa:
                grad_sa = (p if a is None else p * a).view_as(sa)
            if need_alpha:
                grad_alpha = ((p * saf).sum() - gx.sum()).reshape(alpha.shape).to(alpha.dtype)
        return grad_x, grad_ca, grad_sa, grad_alpha


def scaled_channel_pool(x: Tensor, scale: Tensor) -> Tensor:
    """Spatial descriptor of ``x * scale``: ``[mean over channels, max over channels]``.

    Args:
        x: feature map (B, C, H, W).
        scale: per-channel weights (B, C).

    Returns:
        Tensor (B, 2, H, W), without saving ``x * scale`` for backward.
    """
    return _ScaledChannelPool.apply(x, scale)


def modulate(x: Tensor, ca: Tensor, sa: Tensor, alpha: Optional[Tensor] = None) -> Tensor:
    """``x * ca * sa``, or ``x + alpha * (x * ca * sa - x)`` when ``alpha`` is given.

    Args:
        x: feature map (B, C, H, W).
        ca: channel mask (B, C).
        sa: spatial mask (B, 1, H, W).
        alpha: optional 0-d residual mixing coefficient.
    """
    return _Modulate.apply(x, ca, sa, alpha)
