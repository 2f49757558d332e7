"""Check that a CBAM model loaded from a baseline (non-CBAM) checkpoint starts as the baseline.

Usage::

    python -m mm_cbam.analysis.identity_start CBAM_CONFIG BASELINE_CHECKPOINT
    python tools/analysis/check_identity_start.py CBAM_CONFIG BASELINE_CHECKPOINT  # the same
        [--baseline-config CONFIG] [--batch-size 2] [--size 256 320] [--cfg-options ...]

With residual mixing and ``alpha_init=0`` every CBAM is an exact identity at step 0, so the CBAM
model with the baseline's weights computes exactly the baseline's outputs. The tool

1. builds the CBAM model and loads the baseline checkpoint, reporting missing keys (must all be
   CBAM parameters) and unexpected keys (must be none);
2. builds the baseline model (from ``--baseline-config``, or else the CBAM config with its
   attention removed: :func:`mm_cbam.models.plain_model_config`) with the same weights; the
   config text mmengine stores in a checkpoint is Python code and is never executed;
3. runs both in eval mode on a synthetic batch (``--size``) and reports the maximum absolute
   difference of every raw output (``mode='tensor'``).

Exit status 0 when every missing key is a CBAM key and the difference is at most ``--tol``
(default 0: bit-for-bit).
"""
import argparse
import sys
from typing import Dict, List

import torch

import mm_cbam  # noqa: F401  (registration, compatibility fixes)
from mm_cbam.attention import attention_modules
from mm_cbam.checkpoint import safe_load
from mm_cbam.models.plain import plain_model_config
from mm_cbam.runner.cli import run_cli
from mm_cbam.runner.config import build_model, load_config, task_of
from mm_cbam.testing import synthetic_batch


def _flatten(outputs) -> List[torch.Tensor]:
    if isinstance(outputs, torch.Tensor):
        return [outputs]
    if isinstance(outputs, dict):
        outputs = list(outputs.values())
    if isinstance(outputs, (list, tuple)):
        return [t for o in outputs for t in _flatten(o)]
    return []


def _prepare(model):
    from mmengine.model import revert_sync_batchnorm
    return revert_sync_batchnorm(model).eval()


def _load(model, state_dict) -> Dict[str, list]:
    result = model.load_state_dict(state_dict, strict=False)
    return dict(missing=list(result.missing_keys), unexpected=list(result.unexpected_keys))


def check_identity_start(cbam_cfg, baseline_cfg, state_dict: Dict[str, torch.Tensor],
                         batch_size: int = 2, size=(128, 160)) -> dict:
    """Max output difference between the baseline and the CBAM model with the same weights."""
    task = task_of(cbam_cfg)
    cbam_model = _prepare(build_model(cbam_cfg))
    base_model = _prepare(build_model(baseline_cfg))
    keys = _load(cbam_model, state_dict)
    base_keys = _load(base_model, state_dict)
    cbam_names = {name for name, _ in attention_modules(cbam_model)}
    foreign = [k for k in keys['missing'] if not any(k.startswith(n + '.') for n in cbam_names)]

    batch = synthetic_batch(cbam_model, task, batch_size=batch_size, size=size)
    with torch.no_grad():
        data = base_model.data_preprocessor(batch, False)
        base_out = _flatten(base_model(data['inputs'], data['data_samples'], mode='tensor'))
        data = cbam_model.data_preprocessor(batch, False)
        cbam_out = _flatten(cbam_model(data['inputs'], data['data_samples'], mode='tensor'))
    if len(base_out) != len(cbam_out):
        raise RuntimeError(f'the models return {len(base_out)} and {len(cbam_out)} tensors')
    # outputs of different shapes (e.g. a different number of proposals kept) differ by inf
    diffs = [(a.float() - b.float()).abs().max().item() if a.shape == b.shape else float('inf')
             for a, b in zip(base_out, cbam_out)]
    return dict(max_diff=max(diffs), num_outputs=len(diffs), missing=keys['missing'],
                missing_not_cbam=foreign, unexpected=keys['unexpected'],
                baseline_missing=base_keys['missing'], num_cbam=len(cbam_names))


def _state_dict(checkpoint: dict) -> Dict[str, torch.Tensor]:
    sd = checkpoint.get('state_dict', checkpoint)
    return {k[len('module.'):] if k.startswith('module.') else k: v for k, v in sd.items()}


def main(argv=None) -> int:
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='CBAM config')
    parser.add_argument('checkpoint', help='baseline checkpoint')
    parser.add_argument('--baseline-config', help='baseline config (default: the CBAM config '
                        'with its attention removed)')
    parser.add_argument('--batch-size', type=int, default=2)
    parser.add_argument('--size', type=int, nargs=2, default=(256, 320), metavar=('H', 'W'))
    parser.add_argument('--tol', type=float, default=0.0)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the CBAM config, as in mmdet tools')
    args = parser.parse_args(argv)

    checkpoint = safe_load(args.checkpoint, map_location='cpu')
    cbam_cfg = load_config(args.config, args.cfg_options)
    if args.baseline_config:
        base_cfg = load_config(args.baseline_config)
    else:
        base_cfg = load_config(args.config, args.cfg_options)
        base_cfg.model = plain_model_config(base_cfg.model)
    for cfg in (cbam_cfg, base_cfg):
        if task_of(cfg) == 'seg':
            cfg.model.data_preprocessor.size = tuple(args.size)
    report = check_identity_start(cbam_cfg, base_cfg, _state_dict(checkpoint), args.batch_size,
                                  tuple(args.size))
    print(f"CBAM modules: {report['num_cbam']}; baseline keys missing in the CBAM model: "
          f"{len(report['missing'])} (all CBAM: {not report['missing_not_cbam']}); unexpected: "
          f"{len(report['unexpected'])}")
    if report['missing_not_cbam']:
        print('  non-CBAM missing keys:', report['missing_not_cbam'][:10])
    if report['unexpected']:
        print('  unexpected keys:', report['unexpected'][:10])
    print(f"max |baseline - cbam| over {report['num_outputs']} output tensors: "
          f"{report['max_diff']:.3g}")
    ok = report['max_diff'] <= args.tol and not report['missing_not_cbam'] and not report[
        'unexpected']
    print('identity start: ' + ('OK' if ok else 'FAILED'))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(run_cli(main))
