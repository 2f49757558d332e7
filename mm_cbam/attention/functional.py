"""Fused, memory-lean CBAM forward/backward.

A literal CBAM (``y = x * ca(x); s = [mean_c(y), max_c(y)]; out = x + alpha * (y * sa(s) - x)``)
allocates and saves several tensors of the input's full size. Only three full-size operations are
really needed -- pooling ``x``, building the spatial descriptor of ``x * ca`` and writing the output
-- and everything in between (the channel MLP, the spatial convolutions, the router) works on
small tensors: (B, C) and (B, 2, H, W).

:func:`cbam` therefore runs the full-size steps in one autograd function that

* allocates one full-size tensor in forward (the output; ``x * ca`` is built in it and scaled in
  place) and one in backward (the input gradient, also used as scratch space);
* saves only the input, the two masks and the arg-max indices (``int64`` of size B*C and B*H*W);
* delegates the small parts to ordinary autograd: they are traced inside the forward (on detached
  copies of the pooled descriptors) and differentiated with :func:`torch.autograd.grad` in the
  backward, so the channel/spatial modules stay plain ``nn.Module`` code with any options.

Gradients are exact (float64 results agree with the literal formulation to rounding; ties in a
max are routed to the first maximal element, as ``torch.max`` and ``nn.AdaptiveMaxPool2d`` do).
Maps returned for analysis are detached: gradients flow through the output.
"""
from typing import Callable, List, Optional, Tuple

import torch
from torch import Tensor
from torch.autograd import Function

ChannelFn = Callable[[Tensor, Tensor], Tuple[Tensor, Optional[Tensor]]]
SpatialFn = Callable[[Tensor], Tuple[Tensor, Optional[Tensor]]]


def _descriptors(x: Tensor, with_indices: bool):
    """Channel descriptors (avg, max over H*W) of a contiguous (B, C, H, W) tensor."""
    b, c, h, w = x.shape
    xf = x.view(b, c, h * w)
    avg = xf.mean(dim=2)
    if with_indices:
        mx, idx = xf.max(dim=2)
        return avg, mx, idx
    return avg, xf.amax(dim=2), None


def _spatial_descriptor(x: Tensor, ca: Tensor, y: Tensor, with_indices: bool):
    """``[mean_c(y), max_c(y)]`` of ``y = x * ca`` as (B, 2, H, W), and the channel arg-max
    (B, H*W) if asked. The mean is a batched matrix-vector product on ``x`` (faster than a
    strided reduction of ``y``)."""
    b, c, h, w = y.shape
    yf = y.view(b, c, h * w)
    mean = torch.bmm(ca.unsqueeze(1), x.view(b, c, h * w)).squeeze(1).div_(c)
    if with_indices:
        mx, idx = yf.max(dim=1)
    else:
        mx, idx = yf.amax(dim=1), None
    return torch.stack((mean, mx), dim=1).view(b, 2, h, w), idx


def _apply_spatial(y: Tensor, x: Tensor, sa: Tensor, alpha: Optional[Tensor]) -> Tensor:
    """In place: ``y <- y * sa`` or ``y <- alpha * y * sa + (1 - alpha) * x``."""
    if alpha is None:
        return y.mul_(sa)
    a = alpha.detach().to(y.dtype)
    return y.mul_(sa * a).addcmul_(x, 1 - a)


def _call(fn, inputs, trace: bool):
    """``fn(*inputs)``; with ``trace`` on detached leaves under autograd (returned too), so that
    the small graph can be differentiated later with :func:`torch.autograd.grad`."""
    if not trace:
        return fn(*inputs), inputs
    with torch.enable_grad():
        leaves = [t.detach().requires_grad_() for t in inputs]
        return fn(*leaves), leaves


def _forward(x: Tensor, channel_fn, spatial_fn, alpha: Optional[Tensor], trace: bool):
    """The CBAM forward of a contiguous ``x``: ``(out, ca, sa, fusion_w, router_w, saved)``.

    With ``trace`` the small parts are traced and ``saved`` holds what backward needs (the
    arg-max indices and the traced graphs); otherwise nothing is kept and ``saved`` is None.
    """
    b, c, h, w = x.shape
    avg, mx, idx_c = _descriptors(x, with_indices=trace)
    (ca_graph, fusion_w), ca_in = _call(channel_fn, (avg, mx), trace)
    ca = ca_graph.detach().to(x.dtype)
    out = torch.mul(x, ca.view(b, c, 1, 1))  # x * ca, becomes the output in place
    s, idx_s = _spatial_descriptor(x, ca, out, with_indices=trace)
    (sa_graph, router_w), sa_in = _call(spatial_fn, (s, ), trace)
    sa = sa_graph.detach().to(x.dtype)
    _apply_spatial(out, x, sa, alpha)
    saved = (idx_c, idx_s, ca_in, ca_graph, sa_in[0], sa_graph) if trace else None
    return out, ca, sa, fusion_w, router_w, saved


class _FusedCBAM(Function):

    @staticmethod
    def forward(ctx, x, alpha, channel_fn, spatial_fn, n_channel_params, *params):
        x = x.contiguous()
        out, ca, sa, fusion_w, router_w, saved = _forward(x, channel_fn, spatial_fn, alpha,
                                                          trace=True)
        idx_c, idx_s, (avg_in, mx_in), ca_graph, s_in, sa_graph = saved
        ctx.save_for_backward(x, ca, sa, idx_c, idx_s, alpha)
        ctx.graphs = (avg_in, mx_in, ca_graph, s_in, sa_graph)
        ctx.params = (params[:n_channel_params], params[n_channel_params:])
        maps = [t.detach() if t is not None else None for t in (ca, sa, fusion_w, router_w)]
        ctx.mark_non_differentiable(*[t for t in maps if t is not None])
        return (out, *maps)

    @staticmethod
    def backward(ctx, grad, *unused_map_grads):
        x, ca, sa, idx_c, idx_s, alpha = ctx.saved_tensors
        avg_in, mx_in, ca_graph, s_in, sa_graph = ctx.graphs
        ca_params, sa_params = ctx.params
        b, c, h, w = x.shape
        hw = h * w
        grad = grad.to(x.dtype)
        a = alpha.detach().to(x.dtype) if alpha is not None else None
        need_x, need_alpha = ctx.needs_input_grad[0], ctx.needs_input_grad[1]

        # scratch = g * x (the only full-size allocation; it becomes grad_x at the end)
        scratch = torch.mul(grad, x)
        sf = scratch.view(b, c, hw)
        p = torch.bmm(ca.unsqueeze(1), sf).squeeze(1)  # sum_c g*x*ca  (B, HW)
        grad_alpha = None
        if need_alpha:
            grad_alpha = ((p * sa.view(b, hw)).sum() - sf.sum()).reshape(alpha.shape)
        grad_sa = p if a is None else p * a

        # spatial attention (small graph): d/ds and its parameters
        sa_inputs = [s_in] + [t for t in sa_params if t.requires_grad]
        sa_grads = torch.autograd.grad(sa_graph, sa_inputs, grad_sa.view_as(sa_graph).to(
            sa_graph.dtype), retain_graph=True, allow_unused=True)
        g_s = sa_grads[0].to(x.dtype)
        g_mean = g_s[:, 0].reshape(b, 1, h, w) / c
        g_max = g_s[:, 1].reshape(b, hw)

        # d/dca = sum_hw x * (a*g*sa + g_mean) + the channel-max routing
        scratch.mul_(sa if a is None else sa * a).addcmul_(x, g_mean)
        grad_ca = sf.sum(dim=2)
        xf = x.view(b, c, hw)
        grad_ca.scatter_add_(1, idx_s, xf.gather(1, idx_s.unsqueeze(1)).squeeze(1) * g_max)

        # channel attention (small graph): d/d(avg, max) and its parameters
        ca_inputs = [avg_in, mx_in] + [t for t in ca_params if t.requires_grad]
        ca_grads = torch.autograd.grad(ca_graph, ca_inputs, grad_ca.to(ca_graph.dtype),
                                       retain_graph=True, allow_unused=True)

        grad_x = None
        if need_x:
            # g*(a*ca*sa + 1 - a) + ca*g_mean + g_avg/HW + max routings, built in `scratch`
            torch.mul(grad, sa if a is None else sa * a, out=scratch)
            scratch.add_(g_mean).mul_(ca.view(b, c, 1, 1))
            if a is not None:
                scratch.addcmul_(grad, 1 - a)
            scratch.add_((ca_grads[0].to(x.dtype) / hw).view(b, c, 1, 1))
            sf.scatter_add_(2, idx_c.unsqueeze(2), ca_grads[1].to(x.dtype).unsqueeze(2))
            sf.scatter_add_(1, idx_s.unsqueeze(1), (ca.gather(1, idx_s) * g_max).unsqueeze(1))
            grad_x = scratch

        param_grads = _align(ca_params, ca_grads[2:]) + _align(sa_params, sa_grads[1:])
        return (grad_x, grad_alpha, None, None, None, *param_grads)


def _align(params, grads) -> List[Optional[Tensor]]:
    """Gradients for every param (None for those that do not require grad)."""
    it = iter(grads)
    return [next(it) if p.requires_grad else None for p in params]


def cbam(x: Tensor, channel_fn: ChannelFn, spatial_fn: SpatialFn, alpha: Optional[Tensor],
         channel_params: List[Tensor], spatial_params: List[Tensor]):
    """CBAM with optional residual mixing, fused over the full-size steps.

    Args:
        x: input (B, C, H, W).
        channel_fn: ``(avg, max) -> (ca, fusion_w)`` on (B, C) descriptors; ``ca`` is (B, C).
        spatial_fn: ``s -> (sa, router_w)`` on the (B, 2, H, W) descriptor; ``sa`` is (B, 1, H, W).
        alpha: residual coefficient (0-d) or None for plain ``x * ca * sa``.
        channel_params / spatial_params: the parameters ``channel_fn`` / ``spatial_fn`` use.

    Returns:
        ``(out, ca, sa, fusion_w, router_w)``; the maps are detached.
    """
    params = list(channel_params) + list(spatial_params)
    needs_graph = torch.is_grad_enabled() and (
        x.requires_grad or any(p.requires_grad for p in params)
        or (alpha is not None and alpha.requires_grad))
    if needs_graph:
        return _FusedCBAM.apply(x, alpha, channel_fn, spatial_fn, len(channel_params), *params)
    # inference: the same computation, nothing traced or saved, no arg-max indices
    with torch.no_grad():
        out, ca, sa, fusion_w, router_w, _ = _forward(x.contiguous(), channel_fn, spatial_fn,
                                                      alpha, trace=False)
    return out, ca, sa, fusion_w, router_w
