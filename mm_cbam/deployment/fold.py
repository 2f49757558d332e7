"""Fold residual attention that does nothing: write a config and checkpoint without it.

Usage::

    python -m mm_cbam.deployment.fold CONFIG CHECKPOINT OUT_CONFIG OUT_CHECKPOINT
        [--alpha-below EPS] [--cfg-options ...]
    python tools/model_converters/fold_cbam.py ...   # the same

A residual CBAM computes ``x + alpha * (cbam(x) - x)``: with ``alpha = 0`` it returns its input
unchanged, at the cost of computing ``cbam(x)``. Every residual module with ``|alpha| <= EPS``
(default 0: exactly 0) may go; whether it goes depends on the config entry that created it
(:mod:`.fold_config`: a backbone plugin applies to whole stages, so a stage is dropped from
the entry only if all its modules may go). The tool prints, per attention module, whether it
was folded and why (not), then

1. builds the model of the new config and checks that it has exactly the remaining attention
   and the checkpoint's keys minus the folded modules' keys;
2. runs the original and the folded model (eval, ``mode='tensor'``, one synthetic image, a
   detector's RPN at its proposal budget) and prints the largest output difference: 0 when
   every folded alpha is 0 (the exit status is 1 otherwise), else the effect of the threshold;
3. writes OUT_CONFIG (the full config, ``_base_`` merged) and OUT_CHECKPOINT
   (``{'state_dict', 'meta'}``; ``meta`` is the source's, with the new config text and a
   ``mm_cbam_fold`` record), then reloads both and loads the checkpoint strictly.
"""
import argparse
import copy
import io
import os
import os.path as osp
import sys
from typing import Dict, List, Optional

import torch

import mm_cbam  # noqa: F401  (registration, compatibility fixes)
from mm_cbam.analysis.get_flops import model_inputs, proposal_budget
from mm_cbam.attention import attention_modules
from mm_cbam.checkpoint.atomic import atomic_write_bytes
from mm_cbam.deployment.fold_config import fold_model_config
from mm_cbam.deployment.loading import DeployError, build_eval_model, load_strict, read_checkpoint
from mm_cbam.deployment.wrappers import default_shape
from mm_cbam.runner.cli import run_cli
from mm_cbam.runner.config import load_config, task_of


def alpha_of(module) -> Optional[float]:
    """The residual coefficient of an attention module, or None if it is not residual."""
    alpha = getattr(module, 'alpha', None) if getattr(module, 'residual', False) else None
    return None if alpha is None else float(alpha.detach())


def classify(model, eps: float):
    """``(candidates, keep)``: attention modules that may go / must stay, name -> reason."""
    candidates, keep = {}, {}
    for name, module in attention_modules(model):
        alpha = alpha_of(module)
        if alpha is None:
            keep[name] = 'not residual: its output is the attention itself'
        elif abs(alpha) <= eps:
            candidates[name] = f'alpha = {alpha:.3g}'
        else:
            keep[name] = f'|alpha| = {abs(alpha):.3g} > {eps:g}'
    return candidates, keep


def _flatten(outputs) -> List[torch.Tensor]:
    if isinstance(outputs, torch.Tensor):
        return [outputs]
    if isinstance(outputs, dict):
        outputs = list(outputs.values())
    return [t for o in (outputs or []) for t in _flatten(o)]


def max_output_diff(original, folded, task: str, shape) -> float:
    """Largest ``|original - folded|`` over the raw outputs on one synthetic image."""
    data = model_inputs(original, task, shape)
    with torch.no_grad(), proposal_budget(original), proposal_budget(folded):
        a = _flatten(original(data['inputs'], data['data_samples'], mode='tensor'))
        b = _flatten(folded(data['inputs'], data['data_samples'], mode='tensor'))
    if len(a) != len(b) or any(x.shape != y.shape for x, y in zip(a, b)):
        return float('inf')
    return max((x.float() - y.float()).abs().max().item() for x, y in zip(a, b))


def fold(cfg, checkpoint: str, eps: float = 0.0) -> Dict[str, object]:
    """Fold the model of ``cfg`` with ``checkpoint``'s weights: ``dict(cfg, state_dict,
    decisions, removed, max_diff, shape)``, checked as the module documentation says."""
    if not eps >= 0:
        raise DeployError(f'--alpha-below {eps}: must be a number >= 0')
    task = task_of(cfg)
    state_dict, _ = read_checkpoint(checkpoint)
    model = build_eval_model(cfg)
    load_strict(model, state_dict, f'checkpoint {checkpoint}')
    candidates, keep = classify(model, eps)
    new_model_cfg, decisions = fold_model_config(cfg.model, model, candidates, keep)
    decisions = {n: decisions[n] for n, _ in attention_modules(model)}  # model order
    gone = [n for n, (folded, _) in decisions.items() if folded]
    removed = [k for k in state_dict if any(k.startswith(n + '.') for n in gone)]
    new_sd = type(state_dict)((k, v) for k, v in state_dict.items() if k not in removed)
    new_cfg = copy.deepcopy(cfg)
    new_cfg.model = new_model_cfg
    folded_model = build_eval_model(new_cfg)
    remaining = sorted(n for n, _ in attention_modules(folded_model))
    expected = sorted(n for n, (f, _) in decisions.items() if not f)
    if remaining != expected or set(folded_model.state_dict()) != set(new_sd):
        extra = sorted(set(folded_model.state_dict()) ^ set(new_sd))[:4]
        raise DeployError(f'the folded config does not build the expected model (attention '
                          f'{remaining} instead of {expected}; differing keys {extra})')
    load_strict(folded_model, new_sd, 'the folded state_dict')
    shape = default_shape(cfg, task)
    if task == 'seg':
        for m in (model, folded_model):
            m.data_preprocessor.size = shape
    return dict(cfg=new_cfg, state_dict=new_sd, decisions=decisions, removed=removed,
                max_diff=max_output_diff(model, folded_model, task, shape), shape=shape)


def write(result: dict, source: str, out_config: str, out_checkpoint: str, eps: float) -> None:
    """Write the folded config and checkpoint, then reload and load them strictly."""
    for path in (out_config, out_checkpoint):
        os.makedirs(osp.dirname(osp.abspath(path)) or '.', exist_ok=True)
    result['cfg'].dump(out_config)
    _, meta = read_checkpoint(source)
    folded = sorted(n for n, (f, _) in result['decisions'].items() if f)
    meta.update(cfg=result['cfg'].pretty_text,
                mm_cbam_fold=dict(source=osp.basename(source), alpha_below=eps, folded=folded))
    buffer = io.BytesIO()
    torch.save(dict(state_dict=result['state_dict'], meta=meta), buffer)
    atomic_write_bytes(buffer.getvalue(), out_checkpoint)
    build_eval_model(load_config(out_config), out_checkpoint)  # strict: raises on a mismatch


def main(argv=None) -> int:
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('out_config')
    parser.add_argument('out_checkpoint')
    parser.add_argument('--alpha-below', type=float, default=0.0, metavar='EPS',
                        help='fold residual modules with |alpha| <= EPS (default 0: exactly 0)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    if osp.abspath(args.out_checkpoint) == osp.abspath(args.checkpoint):
        raise DeployError(f'OUT_CHECKPOINT {args.out_checkpoint} is CHECKPOINT: write a new file')
    cfg = load_config(args.config, args.cfg_options)
    result = fold(cfg, args.checkpoint, args.alpha_below)
    decisions = result['decisions']
    width = max([len(n) for n in decisions] + [4])
    for name, (folded, reason) in decisions.items():
        print(f"{'folded' if folded else 'kept  '}  {name:<{width}}  {reason}")
    gone = sum(f for f, _ in decisions.values())
    print(f'{gone} of {len(decisions)} attention modules folded, {len(result["removed"])} '
          f'tensors removed; max |original - folded| over the raw outputs: '
          f"{result['max_diff']:.3g}")
    write(result, args.checkpoint, args.out_config, args.out_checkpoint, args.alpha_below)
    print(f'wrote {args.out_config} and {args.out_checkpoint} (reloaded: the checkpoint loads '
          'strictly into the config\'s model)')
    if args.alpha_below == 0 and result['max_diff'] != 0:
        print('ERROR: outputs differ although every folded alpha is 0', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(run_cli(main, extra=(DeployError, )))
