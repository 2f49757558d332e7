"""Export a detector's / segmentor's network to ONNX or TorchScript and check it.

Usage::

    python -m mm_cbam.deployment.export CONFIG [CHECKPOINT] --out FILE [--shape H W]
        [--part full|features|backbone|dense] [--opset 17] [--format onnx|torchscript]
        [--verify] [--tol 1e-4] [--cfg-options ...]
    python tools/deployment/export_onnx.py ...   # the same

The graph goes from the image (float32 (1, 3, H, W), 0-255, the test pipeline's channel order)
to the segmentor's logits or the detector's features (:mod:`.wrappers` says what each ``--part``
holds and why the detector's post-processing is mmdeploy's territory). CBAM modules export as
plain ops: while a graph is recorded the attention runs its plain composition instead of the
fused autograd function (:mod:`mm_cbam.attention.functional`); ``adaptive_max_pool2d`` is not
used at all (the channel max is a ``max`` over the flattened map, ONNX ``ReduceMax``).

ONNX export uses torch's TorchScript-based exporter (``dynamo=False``: it needs no onnxscript;
torch deprecates it in favour of the ``torch.export`` one). ``--verify`` runs the file (with
onnxruntime, or ``torch.jit.load``) and the PyTorch model on the same seeded random image and
prints, per output and overall, the maximum absolute difference and the maximum relative
difference ``max |file - torch| / max |torch|``; the exit status is 1 if the latter exceeds
``--tol``. Without CHECKPOINT the model keeps its random initial weights (the graph is the same).
"""
import argparse
import os
import os.path as osp
import sys
import warnings
from typing import Dict, List, Sequence

import numpy as np
import torch

import mm_cbam  # noqa: F401  (registration, compatibility fixes)
from mm_cbam.deployment.loading import DeployError, build_eval_model
from mm_cbam.deployment.wrappers import DEFAULT_PART, check_shape, default_shape, export_module
from mm_cbam.optional import require
from mm_cbam.runner.cli import run_cli
from mm_cbam.runner.config import load_config, task_of

FORMATS = ('onnx', 'torchscript')


def example_image(shape: Sequence[int], seed: int = 0) -> torch.Tensor:
    """A seeded random image (1, 3, H, W), float32 in [0, 255]."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (1, 3, *shape), generator=g).float()  # (1, 3, H, W)


def _quiet():
    """Warnings that every trace of mmdet / mmseg code prints and that say nothing here."""
    ctx = warnings.catch_warnings()
    ctx.__enter__()
    warnings.filterwarnings('ignore', category=torch.jit.TracerWarning)
    warnings.filterwarnings('ignore', message='.*legacy TorchScript-based ONNX export.*')
    warnings.filterwarnings('ignore', message='.*will be removed.*')
    warnings.filterwarnings('ignore', message='.*torch.jit.trace.* is deprecated.*')
    return ctx


def _run_eager(wrapper, image) -> List[torch.Tensor]:
    with torch.no_grad():
        out = wrapper(image)
    return [out] if isinstance(out, torch.Tensor) else list(out)


def export_onnx(wrapper, image: torch.Tensor, path: str, opset: int = 17) -> List[str]:
    """Write ``wrapper`` traced on ``image`` to the ONNX file ``path``; returns output names."""
    require('onnx', 'ONNX export')
    _run_eager(wrapper, image)  # sets wrapper.output_names
    names = list(wrapper.output_names)
    ctx = _quiet()
    try:
        with torch.no_grad():
            torch.onnx.export(wrapper, (image, ), path, dynamo=False, opset_version=opset,
                              input_names=['image'], output_names=names,
                              do_constant_folding=True)
    except torch.onnx.OnnxExporterError as exc:
        raise DeployError(f'ONNX export failed: {_export_failure(exc)}') from None
    finally:
        ctx.__exit__(None, None, None)
    import onnx
    onnx.checker.check_model(path)
    return names


def _export_failure(exc: Exception) -> str:
    """The first line of an exporter error, with a hint for the known cases."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = text.split(' Please feel free to request support')[0]
    if 'adaptive_avg_pool2d' in text:
        text += (' (a pooling pyramid such as PSPNet\'s needs feature maps divisible by its '
                 'output sizes: choose --shape so that H/8 and W/8 are multiples of 6 for bins '
                 '1, 2, 3, 6 at output stride 8, e.g. --shape 480 960)')
    return text


def trace_torchscript(wrapper, image: torch.Tensor, path: str) -> List[str]:
    """Write ``wrapper`` traced on ``image`` as a TorchScript file; returns output names."""
    _run_eager(wrapper, image)
    ctx = _quiet()
    try:
        with torch.no_grad():
            traced = torch.jit.trace(wrapper, (image, ), check_trace=False)
    finally:
        ctx.__exit__(None, None, None)
    traced.save(path)
    return list(wrapper.output_names)


def run_onnx(path: str, image: torch.Tensor) -> List[np.ndarray]:
    """The outputs of the ONNX file ``path`` on ``image``, computed by onnxruntime (CPU)."""
    require('onnxruntime', 'checking an ONNX export (--verify)')
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    session = ort.InferenceSession(path, options, providers=['CPUExecutionProvider'])
    return session.run(None, {session.get_inputs()[0].name: image.numpy()})


def run_torchscript(path: str, image: torch.Tensor) -> List[np.ndarray]:
    """The outputs of the TorchScript file ``path`` on ``image``."""
    with torch.no_grad():
        out = torch.jit.load(path)(image)
    return [t.numpy() for t in ([out] if isinstance(out, torch.Tensor) else out)]


def compare(reference: Sequence[torch.Tensor], outputs: Sequence[np.ndarray],
            names: Sequence[str]) -> List[Dict[str, object]]:
    """Per output: shape, max |a - b| and max |a - b| / max |b| (``b`` the PyTorch output)."""
    if len(reference) != len(outputs):
        raise DeployError(f'the exported file returns {len(outputs)} outputs, the model '
                          f'{len(reference)}')
    rows = []
    for name, ref, out in zip(names, reference, outputs):
        ref = ref.detach().double().numpy()
        if tuple(ref.shape) != tuple(out.shape):
            raise DeployError(f'output {name}: shape {tuple(out.shape)} in the exported file, '
                              f'{tuple(ref.shape)} in the model')
        diff = float(np.abs(out.astype(np.float64) - ref).max())
        scale = float(np.abs(ref).max())
        rows.append(dict(name=name, shape=tuple(ref.shape), max_abs=diff,
                         max_rel=diff / scale if scale > 0 else diff))
    return rows


def export(cfg, checkpoint, out: str, shape=None, part=None, opset: int = 17,
           fmt: str = 'onnx', verify: bool = False) -> dict:
    """Export ``part`` of the model of ``cfg`` to ``out``; with ``verify`` also compare the file's
    outputs to the model's. Returns ``dict(task, part, shape, names, rows)``."""
    if fmt not in FORMATS:
        raise DeployError(f'--format {fmt!r}: allowed values are {", ".join(FORMATS)}')
    task = task_of(cfg)
    part = part or DEFAULT_PART[task]
    model = build_eval_model(cfg, checkpoint)
    wrapper = export_module(model, task, part)
    shape = check_shape(model, task, shape or default_shape(cfg, task))
    image = example_image(shape)
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    writer = export_onnx if fmt == 'onnx' else trace_torchscript
    if fmt == 'onnx':
        names = writer(wrapper, image, out, opset)
    else:
        names = writer(wrapper, image, out)
    rows = None
    if verify:
        reader = run_onnx if fmt == 'onnx' else run_torchscript
        rows = compare(_run_eager(wrapper, image), reader(out, image), names)
    return dict(task=task, part=part, shape=shape, names=names, rows=rows)


def main(argv=None) -> int:
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint', nargs='?', help='weights (default: random initial ones)')
    parser.add_argument('--out', required=True, help='the file to write (.onnx / .pt)')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help='input size (default: the config\'s crop size or test scale)')
    parser.add_argument('--part', help='what to export (default: full for segmentors, '
                        'features for detectors; see the module documentation)')
    parser.add_argument('--opset', type=int, default=17, help='ONNX opset (default 17)')
    parser.add_argument('--format', choices=FORMATS, default='onnx')
    parser.add_argument('--verify', action='store_true',
                        help='run the file and the model on the same image and compare')
    parser.add_argument('--tol', type=float, default=1e-4,
                        help='largest max relative difference --verify accepts (default 1e-4)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    result = export(cfg, args.checkpoint, args.out, args.shape, args.part, args.opset,
                    args.format, args.verify)
    what = 'segmentor' if result['task'] == 'seg' else 'detector'
    h, w = result['shape']
    print(f"exported the {what}'s {result['part']} part ({args.format}, "
          + (f'opset {args.opset}, ' if args.format == 'onnx' else '')
          + f"input image (1, 3, {h}, {w}) float32 0-255) to {args.out}"
          + ('' if args.checkpoint else ' with random initial weights (no CHECKPOINT)'))
    print(f"outputs: {', '.join(result['names'])}")
    if result['rows'] is None:
        return 0
    runtime = 'onnxruntime' if args.format == 'onnx' else 'torch.jit.load'
    for row in result['rows']:
        print(f"  {row['name']} {row['shape']}: max abs diff {row['max_abs']:.3g}, "
              f"max rel diff {row['max_rel']:.3g}")
    worst_abs = max(r['max_abs'] for r in result['rows'])
    worst_rel = max(r['max_rel'] for r in result['rows'])
    ok = worst_rel <= args.tol
    print(f'verify ({runtime} vs PyTorch, fp32): max abs diff {worst_abs:.3g}, max rel diff '
          f'{worst_rel:.3g} (max |diff| / max |output|): '
          + ('OK' if ok else f'FAILED (above --tol {args.tol:g})'))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(run_cli(main, extra=(DeployError, )))
