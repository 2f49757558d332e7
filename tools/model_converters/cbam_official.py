"""Convert the official CBAM ImageNet checkpoint for mmdet / mmseg ResNet backbones.

The authors of CBAM (Jongchan/attention-module) publish ResNet-50 + CBAM trained on ImageNet
(``RESNET50_CBAM_new_name_wrap.pth``, 77.62 % top-1 / 93.95 % top-5 per their README)::

    python tools/model_converters/cbam_official.py RESNET50_CBAM_new_name_wrap.pth \\
        checkpoints/resnet50_cbam_official_mm.pth [--depth 18|34|50|101]

The input may be ``{'state_dict': {...}}`` or a bare state_dict, with or without the ``module.``
prefix of ``nn.DataParallel``. The output is an mmengine-loadable backbone checkpoint
(``{'state_dict': ..., 'meta': ...}``) for ``init_cfg=dict(type='Pretrained', checkpoint=DST)``
of an mmdet/mmseg ResNet with the official CBAM plugin in every block
(``configs/faster_rcnn_r50_cbam-official.py``,
``configs/deeplabv3plus_r50_40k_cityscapes_cbam-official.py``). The classifier ``fc`` is dropped;
unknown or missing keys are an error that names them. The spatial descriptor order is converted
(official ``[max, mean]``, mm_cbam ``[mean, max]``), so outputs are identical.

The file is read with ``torch.load(weights_only=True)``; ``--trust-pickle`` allows arbitrary
pickled objects (only for a file from a source you trust).
"""
import argparse
import os
import os.path as osp
import sys
import tempfile

import torch

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), '..', '..'))
from mm_cbam.checkpoint import (UnreadableCheckpointError, UnsafeCheckpointError,  # noqa: E402
                                safe_load)
from mm_cbam.converters import OFFICIAL_CBAM, ConversionError, convert  # noqa: E402


def load(path: str, trust_pickle: bool):
    if not osp.isfile(path):
        raise FileNotFoundError(f'SRC not found: {path}')
    if trust_pickle:
        return torch.load(path, map_location='cpu', weights_only=False)
    try:
        return safe_load(path, map_location='cpu')
    except UnsafeCheckpointError as exc:
        raise ConversionError(f'{exc}. If the file comes from a source you trust, add '
                              '--trust-pickle') from None
    except UnreadableCheckpointError as exc:
        raise ConversionError(str(exc)) from None
    except (RuntimeError, EOFError, OSError) as exc:  # not a torch file at all
        raise ConversionError(f'{path} is not a torch checkpoint ({type(exc).__name__}: '
                              f'{str(exc).strip().splitlines()[0][:200]})') from None


def check_writable(dst: str) -> None:
    """Fail before converting if ``dst`` cannot be written (naming it and why)."""
    folder = osp.dirname(osp.abspath(dst))
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise ConversionError(f'cannot create the folder of DST {dst}: '
                              f'{exc.strerror or exc}') from None
    if osp.isdir(dst):
        raise ConversionError(f'cannot write DST {dst}: it is a directory')
    try:  # a trial write: permissions, read-only file systems, quotas
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise ConversionError(f'cannot write DST {dst}: {exc.strerror or exc}') from None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='official checkpoint (e.g. RESNET50_CBAM_new_name_wrap.pth)')
    parser.add_argument('dst', help='output (e.g. checkpoints/resnet50_cbam_official_mm.pth)')
    parser.add_argument('--depth', type=int, choices=(18, 34, 50, 101),
                        help='expected ResNet depth (default: inferred from the checkpoint)')
    parser.add_argument('--trust-pickle', action='store_true',
                        help='load with weights_only=False (trusted files only)')
    args = parser.parse_args(argv)
    try:
        check_writable(args.dst)
        state_dict, report = convert(load(args.src, args.trust_pickle), args.depth)
        meta = dict(source=osp.basename(args.src), depth=report['depth'],
                    converter='mm_cbam tools/model_converters/cbam_official.py',
                    cbam=OFFICIAL_CBAM)
        try:
            torch.save(dict(state_dict=state_dict, meta=meta), args.dst)
        except OSError as exc:
            raise ConversionError(f'cannot write DST {args.dst}: {exc.strerror or exc}') from None
    except (ConversionError, FileNotFoundError) as exc:
        print(f'ERROR: {exc}', file=sys.stderr)
        return 2
    mapped = report['mapped']
    print(f"ResNet-{report['depth']} + CBAM: {len(state_dict)} tensors written to {args.dst}")
    print(f"  kept (torchvision names = mmdet/mmseg names): {report['kept']}")
    print(f'  mapped (CBAM modules): {len(mapped)}, e.g.')
    for key in list(mapped)[:6]:
        print(f'    {key} -> {mapped[key]}')
    print('  (SpatialGate conv weights: input channels reordered [max, mean] -> [mean, max])')
    if report['filled']:
        print(f"  filled: {len(report['filled'])} BatchNorm num_batches_tracked counters (absent "
              'from the file) set to 0')
    print(f"  derived: {len(report['derived'])} fixed gate temperatures T = 1 (mm_cbam buffers)")
    print(f"  dropped: {', '.join(report['dropped']) or 'nothing'}")
    print(f"Use: backbone=dict(init_cfg=dict(type='Pretrained', checkpoint='{args.dst}'), "
          f"plugins=[dict(cfg={OFFICIAL_CBAM}, stages=(True, True, True, True), "
          "position='after_conv3')])  # 'after_conv2' with PluginResNet for ResNet-18/34")
    return 0


if __name__ == '__main__':
    sys.exit(main())
