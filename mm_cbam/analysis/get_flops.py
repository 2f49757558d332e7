"""FLOPs and parameters of a detector / segmentor and of its attention alone (per stage).

Usage::

    python -m mm_cbam.analysis.get_flops CONFIG [--shape H W] [--plain] [--cfg-options ...]
    python tools/analysis/get_flops.py CONFIG ...   # the same

Counted by ``mmengine.analysis.FlopAnalyzer`` (fvcore's counter: the model is traced with
``torch.jit`` and every recorded op is counted by its handle), with mmdet's / mmseg's
``get_flops`` conventions: one image of ``--shape`` through the network (``mode='tensor'``: no
post-processing), one multiply-add = one FLOP, elementwise ops (activations, gates, products,
poolings other than adaptive average) not counted. For CBAM that is the channel MLP (two
``linear``), the spatial convolution(s), the router of the dynamic variant and the spatial
norm of the official one; its full-size elementwise passes cost memory traffic, not FLOPs
(``benchmark_model`` times them).

The attention is counted, not skipped: while a graph is recorded the attention runs its plain
composition (:func:`mm_cbam.attention.cbam_composite`) instead of the fused autograd function,
which ``torch.jit``'s tracer cannot record (it calls the channel and spatial modules inside its
``forward``; the trace fails). The count of every attention module is the one of the composition
it computes; ``tests/test_analysis/test_get_flops.py`` checks it against the hand formula.

A two-stage detector's RoI head works on as many proposals as the RPN keeps, which depends on the
weights; the count is taken at the proposal budget -- NMS of the RPN disabled while counting, so
it keeps ``max_per_img`` proposals -- so that a CBAM model and its plain counterpart differ by the
attention only. ``--plain`` also counts the config with its attention removed
(:func:`mm_cbam.models.plain_model_config`) and prints the difference.
"""
import argparse
import contextlib
import sys
from collections import OrderedDict
from typing import Dict, List, Sequence

import torch
import torch.nn as nn

import mm_cbam  # noqa: F401  (registration, compatibility fixes)
from mm_cbam.attention import attention_modules
from mm_cbam.patterns import stage_of
from mm_cbam.runner.cli import run_cli
from mm_cbam.runner.config import load_config, task_of

CONVENTION = ('mmengine.analysis FlopAnalyzer: one multiply-add = one FLOP, elementwise ops not '
              'counted')


class TensorForward(nn.Module):
    """``model(inputs, data_samples, mode='tensor')`` as a module of the inputs alone."""

    def __init__(self, model, data_samples):
        super().__init__()
        self.model, self.data_samples = model, data_samples

    def forward(self, inputs):
        return self.model(inputs, self.data_samples, mode='tensor')


@contextlib.contextmanager
def proposal_budget(model):
    """Within the context a two-stage detector's RPN keeps ``max_per_img`` proposals (its NMS
    IoU threshold set to 1, so no box suppresses another)."""
    nms = getattr(getattr(model, 'rpn_head', None), 'test_cfg', None)
    nms = nms.get('nms') if nms is not None else None
    if nms is None or 'iou_threshold' not in nms:
        yield
        return
    previous = nms['iou_threshold']
    nms['iou_threshold'] = 1.0
    try:
        yield
    finally:
        nms['iou_threshold'] = previous


def analyze(module: nn.Module, inputs):
    """A ``FlopAnalyzer`` of ``module`` on ``inputs``, warnings off, counted."""
    from mmengine.analysis import FlopAnalyzer
    analyzer = FlopAnalyzer(module, inputs)
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    analyzer.tracer_warnings('none')
    analyzer.total()
    return analyzer


def model_inputs(model, task: str, shape: Sequence[int]):
    """One synthetic image of ``shape`` through the model's data preprocessor (inference)."""
    from mm_cbam.testing import synthetic_batch
    batch = synthetic_batch(model, task, batch_size=1, size=tuple(shape))
    return model.data_preprocessor(batch, False)


def count_flops(model: nn.Module, data: dict) -> Dict[str, object]:
    """FLOPs and parameters of ``model`` (eval mode, ``mode='tensor'``) on preprocessed ``data``
    and of each of its attention modules: ``dict(flops, params, modules=[(name, flops, params)])``.
    """
    training = model.training
    model.eval()
    try:
        with torch.no_grad(), proposal_budget(model):
            analyzer = analyze(TensorForward(model, data['data_samples']), (data['inputs'], ))
    finally:
        model.train(training)
    by_module = analyzer.by_module()
    modules = [(name, int(by_module[f'model.{name}']), sum(p.numel() for p in m.parameters()))
               for name, m in attention_modules(model)]
    return dict(flops=int(analyzer.total()), params=sum(p.numel() for p in model.parameters()),
                modules=modules)


def by_stage(modules) -> List[tuple]:
    """``(stage, number of modules, flops, params)`` per stage, in model order."""
    stages: Dict[str, List[int]] = OrderedDict()
    for name, flops, params in modules:
        row = stages.setdefault(stage_of(name), [0, 0, 0])
        row[0] += 1
        row[1] += flops
        row[2] += params
    return [(stage, *row) for stage, row in stages.items()]


def config_flops(cfg, shape=None, checkpoint=None) -> Dict[str, object]:
    """:func:`count_flops` of the model of ``cfg`` at ``shape`` (default: the config's input
    size), plus ``task`` and ``shape``."""
    from mm_cbam.deployment.loading import build_eval_model
    from mm_cbam.deployment.wrappers import default_shape
    task = task_of(cfg)
    shape = tuple(shape or default_shape(cfg, task))
    if task == 'seg':
        cfg.model.data_preprocessor.size = shape
    model = build_eval_model(cfg, checkpoint)
    result = count_flops(model, model_inputs(model, task, shape))
    result.update(task=task, shape=shape)
    return result


def human(value: float, unit: str = '') -> str:
    """``1.23 G`` / ``4.56 M`` / ``7.89 K`` / ``12``."""
    for scale, prefix in ((1e9, 'G'), (1e6, 'M'), (1e3, 'K')):
        if abs(value) >= scale:
            return f'{value / scale:.3f} {prefix}{unit}'
    return f'{value:.0f} {unit}'.rstrip()


def share(part: float, whole: float) -> str:
    """``part / whole`` in percent with two significant digits (``0.0044%``)."""
    return f'{100 * part / max(whole, 1):.2g}%'


def report(name: str, result: dict) -> List[str]:
    """Lines describing one :func:`config_flops` result."""
    att_flops = sum(f for _, f, _ in result['modules'])
    att_params = sum(p for _, _, p in result['modules'])
    h, w = result['shape']
    lines = [f'{name}: input (1, 3, {h}, {w}); {CONVENTION}',
             f"  model:     {human(result['flops'], 'FLOPs')}, {human(result['params'])} params"]
    if not result['modules']:
        lines.append('  attention: none (no mm_cbam attention module in this model)')
        return lines
    lines.append(f"  attention: {human(att_flops, 'FLOPs')} "
                 f"({share(att_flops, result['flops'])} of the model), "
                 f"{human(att_params)} params ({share(att_params, result['params'])}), "
                 f"{len(result['modules'])} modules")
    lines.append('  | stage | modules | FLOPs | params |')
    lines.append('  |---|---|---|---|')
    for stage, count, flops, params in by_stage(result['modules']):
        lines.append(f'  | {stage} | {count} | {human(flops)} | {human(params)} |')
    return lines


def main(argv=None) -> int:
    from mmengine.config import DictAction

    from mm_cbam.models.plain import plain_model_config
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help="input size (default: the config's crop size or test scale)")
    parser.add_argument('--plain', action='store_true',
                        help='also count the config without its attention and compare')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    result = config_flops(cfg, args.shape)
    print('\n'.join(report(args.config, result)))
    if args.plain:
        plain_cfg = load_config(args.config, args.cfg_options)
        plain_cfg.model = plain_model_config(plain_cfg.model)
        plain = config_flops(plain_cfg, result['shape'])
        att = sum(f for _, f, _ in result['modules'])
        print(f"plain counterpart (attention removed): {human(plain['flops'], 'FLOPs')}, "
              f"{human(plain['params'])} params; CBAM - plain = {result['flops'] - plain['flops']}"
              f" FLOPs, {result['params'] - plain['params']} params (attention alone: {att} "
              f"FLOPs, {sum(p for _, _, p in result['modules'])} params)")
    return 0


if __name__ == '__main__':
    sys.exit(run_cli(main))
