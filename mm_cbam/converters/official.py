"""The official CBAM ImageNet checkpoints (Jongchan/attention-module) for mmdet / mmseg ResNets.

The authors' ResNet + CBAM (``MODELS/model_resnet.py``, ``MODELS/cbam.py``) puts one CBAM in
every block of the four stages: after bn3 of a Bottleneck / bn2 of a BasicBlock, before the
residual addition -- mmdet / mmseg ``after_conv3`` and ``PluginResNet`` ``after_conv2``. Its
modules are, in mm_cbam terms:

* ``ChannelGate``: ``mlp = Sequential(Flatten, Linear(C, C//16), ReLU, Linear(C//16, C))`` over
  the avg- and max-pooled descriptors, summed, sigmoid -> ``ca.fc1`` / ``ca.fc2``
  (``min_hidden=1``: the hidden width is ``C // 16`` without a lower bound);
* ``SpatialGate``: descriptor ``[max_c, mean_c]`` (max first), 7x7 convolution without bias,
  ``BatchNorm2d(1, eps=1e-5, momentum=0.01)``, sigmoid -> ``sa.branches.0`` (input channels
  swapped, since mm_cbam's descriptor is ``[mean_c, max_c]``) and ``sa.norm``
  (``sa_norm_cfg``; the official initialisation zeroes its weight: ``sa_norm_zero_init``).

Backbone parameter names are torchvision's, which mmdet's and mmseg's ``ResNet`` share; the
classifier ``fc`` is dropped. :func:`convert` checks the result against the key set the
architecture implies and names every unknown or missing key.

Command line (``tools/model_converters/cbam_official.py`` is the same)::

    python -m mm_cbam.converters.official RESNET50_CBAM_new_name_wrap.pth \\
        checkpoints/resnet50_cbam_official_mm.pth [--depth 18|34|50|101] [--trust-pickle]

The input may be ``{'state_dict': {...}}`` or a bare state_dict, with or without the ``module.``
prefix of ``nn.DataParallel``; it is read with ``weights_only=True`` (``--trust-pickle`` allows
arbitrary pickled objects, only for a file from a source you trust). The output is an
mmengine-loadable backbone checkpoint (``{'state_dict': ..., 'meta': ...}``) for
``init_cfg=dict(type='Pretrained', checkpoint=DST)``. Every converted tensor is checked against
the architecture (shape and kind); unknown or missing keys, an unwritable DST and unreadable
input are errors naming them.
"""
import argparse
import os
import os.path as osp
import re
import sys
import tempfile
from collections import OrderedDict
from typing import Dict, List, Mapping, Tuple

import torch

from ..checkpoint import UnreadableCheckpointError, UnsafeCheckpointError, safe_load

# The CBAM plugin config equal to the official module (the catalogue's `official` variant,
# configs/_base_/cbam_variants.py; tests/test_converters checks they are equal).
OFFICIAL_CBAM = dict(type='CBAM', reduction=16, min_hidden=1,
                     sa_norm_cfg=dict(type='BN', eps=1e-5, momentum=0.01),
                     sa_norm_zero_init=True)
# depth -> (bottleneck?, blocks per stage)
ARCHS = {18: (False, (2, 2, 2, 2)), 34: (False, (3, 4, 6, 3)), 50: (True, (3, 4, 6, 3)),
         101: (True, (3, 4, 23, 3))}
BN_KEYS = ('weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked')
# buffers of the mm_cbam module that the official one lacks, fixed by the config: T = 1
CONFIG_BUFFERS = {'ca.temperature.T': 1.0, 'sa.temperature.T': 1.0}
# official sub-name -> mm_cbam sub-name, inside a block's cbam
_CBAM_RENAMES = [
    (r'ChannelGate\.mlp\.1\.', 'ca.fc1.'),
    (r'ChannelGate\.mlp\.3\.', 'ca.fc2.'),
    (r'SpatialGate\.spatial\.conv\.', 'sa.branches.0.'),
    (r'SpatialGate\.spatial\.bn\.', 'sa.norm.'),
]


class ConversionError(ValueError):
    """The checkpoint is not an official ResNet + CBAM of the expected depth."""


def unwrap(checkpoint: Mapping) -> Dict[str, torch.Tensor]:
    """The state_dict of an official file: ``{'state_dict': ...}`` or bare, ``module.`` (from
    ``nn.DataParallel``) stripped."""
    if not isinstance(checkpoint, Mapping):
        raise ConversionError(f'expected a dict of tensors or {{"state_dict": {{...}}}}, got '
                              f'{type(checkpoint).__name__}')
    sd = checkpoint.get('state_dict', checkpoint)
    if not isinstance(sd, Mapping) or not sd:
        raise ConversionError('no state_dict found (expected a dict of tensors or '
                              "{'state_dict': {...}})")
    bad = [k for k in sd if not isinstance(k, str)]
    if bad:
        raise ConversionError(f'state_dict keys must be strings, got {bad[:3]}')
    return OrderedDict((k[len('module.'):] if k.startswith('module.') else k, v)
                       for k, v in sd.items())


def infer_depth(sd: Mapping[str, torch.Tensor]) -> int:
    """ResNet depth from the number of blocks per stage and the presence of conv3."""
    blocks = []
    for stage in range(1, 5):
        ids = {int(m.group(1)) for k in sd for m in [re.match(rf'layer{stage}\.(\d+)\.', k)] if m}
        blocks.append(max(ids) + 1 if ids else 0)
    bottleneck = any(re.match(r'layer1\.0\.conv3\.', k) for k in sd)
    for depth, (is_bottleneck, stages) in ARCHS.items():
        if tuple(blocks) == stages and is_bottleneck == bottleneck:
            return depth
    raise ConversionError(f'blocks per stage {tuple(blocks)} '
                          f"({'Bottleneck' if bottleneck else 'BasicBlock'}) match no ResNet "
                          f'depth of {sorted(ARCHS)}')


def expected_shapes(depth: int) -> 'OrderedDict[str, Tuple[int, ...]]':
    """Backbone keys and tensor shapes of an mmdet/mmseg ResNet-``depth`` with the official CBAM
    in every block (``num_batches_tracked`` counters and temperatures are 0-d)."""
    bottleneck, stages = ARCHS[depth]
    shapes: 'OrderedDict[str, Tuple[int, ...]]' = OrderedDict()

    def norm(prefix, channels):
        for k in BN_KEYS:
            shapes[f'{prefix}.{k}'] = () if k == 'num_batches_tracked' else (channels, )

    shapes['conv1.weight'] = (64, 3, 7, 7)
    norm('bn1', 64)
    inplanes = 64
    for stage, blocks in enumerate(stages, start=1):
        planes = 64 * 2**(stage - 1)
        out = planes * (4 if bottleneck else 1)
        hidden = max(1, out // 16)
        for block in range(blocks):
            p = f'layer{stage}.{block}.'
            cin = inplanes if block == 0 else out
            if bottleneck:
                convs = [(planes, cin, 1, 1), (planes, planes, 3, 3), (out, planes, 1, 1)]
            else:
                convs = [(planes, cin, 3, 3), (planes, planes, 3, 3)]
            for i, shape in enumerate(convs, start=1):
                shapes[f'{p}conv{i}.weight'] = shape
                norm(f'{p}bn{i}', shape[0])
            if block == 0 and (stage > 1 or inplanes != out):
                shapes[f'{p}downsample.0.weight'] = (out, inplanes, 1, 1)
                norm(f'{p}downsample.1', out)
            shapes.update({f'{p}cbam.ca.fc1.weight': (hidden, out), f'{p}cbam.ca.fc1.bias':
                           (hidden, ), f'{p}cbam.ca.fc2.weight': (out, hidden),
                           f'{p}cbam.ca.fc2.bias': (out, ),
                           f'{p}cbam.sa.branches.0.weight': (1, 2, 7, 7)})
            norm(f'{p}cbam.sa.norm', 1)
            shapes.update({f'{p}cbam.{k}': () for k in CONFIG_BUFFERS})
        inplanes = out
    return shapes


def expected_keys(depth: int) -> List[str]:
    """Backbone keys of an mmdet/mmseg ResNet-``depth`` with a CBAM in every block."""
    return list(expected_shapes(depth))


def _check_tensor(key: str, value, shape: Tuple[int, ...], counter: bool) -> None:
    """The converted ``value`` of ``key`` must be a tensor of ``shape``: an integer counter if
    ``counter``, else floating-point weights."""
    if not isinstance(value, torch.Tensor):
        raise ConversionError(f'{key}: expected a tensor, got {type(value).__name__}')
    if tuple(value.shape) != shape:
        raise ConversionError(f'{key}: shape {tuple(value.shape)} does not match the '
                              f'architecture, which needs {shape}')
    if counter == value.is_floating_point() or (not counter and value.is_complex()):
        raise ConversionError(f'{key}: dtype {value.dtype} does not fit (expected '
                              f"{'an integer counter' if counter else 'floating-point weights'})")


def _rename(key: str) -> str:
    m = re.match(r'(layer\d+\.\d+\.cbam\.)(.*)$', key)
    if not m:
        return key
    rest = m.group(2)
    for pattern, repl in _CBAM_RENAMES:
        rest = re.sub('^' + pattern, repl, rest)
    return m.group(1) + rest


def convert(checkpoint: Mapping, depth: int = None) -> Tuple[Dict[str, torch.Tensor], dict]:
    """Convert an official checkpoint; returns ``(state_dict, report)``.

    ``report`` holds ``depth``, ``mapped`` (official -> mm_cbam names that changed),
    ``kept`` (count of names kept), ``dropped`` (the classifier keys), ``filled`` (BatchNorm
    ``num_batches_tracked`` counters absent from old checkpoints, set to 0) and ``derived`` (the
    fixed gate temperatures ``T = 1`` of the mm_cbam module, which the official one lacks).
    """
    sd = unwrap(checkpoint)
    found = infer_depth(sd)
    if depth is not None and depth != found:
        raise ConversionError(f'--depth {depth} given, but the checkpoint is a ResNet-{found}')
    shapes = expected_shapes(found)
    expected, expected_set = list(shapes), set(shapes)
    out, mapped, dropped, unknown, kept = OrderedDict(), {}, [], [], 0
    for key, value in sd.items():
        if key.startswith('fc.'):
            dropped.append(key)
            continue
        new = _rename(key)
        if new not in expected_set or new.rsplit('cbam.', 1)[-1] in CONFIG_BUFFERS:
            unknown.append(key)
            continue
        _check_tensor(key if new == key else f'{key} (-> {new})', value, shapes[new],
                      counter=new.endswith('num_batches_tracked'))
        if new.endswith('cbam.sa.branches.0.weight'):
            value = value[:, [1, 0]]  # official [max, mean] -> mm_cbam [mean, max]
        out[new] = value
        if new != key:
            mapped[key] = new
        else:
            kept += 1
    filled = [k for k in expected if k not in out and k.endswith('num_batches_tracked')]
    for key in filled:
        out[key] = torch.tensor(0, dtype=torch.long)
    derived = [k for k in expected if k.rsplit('cbam.', 1)[-1] in CONFIG_BUFFERS]
    for key in derived:
        out[key] = torch.tensor(CONFIG_BUFFERS[key.rsplit('cbam.', 1)[-1]])
    missing = [k for k in expected if k not in out]
    if unknown or missing:
        raise ConversionError(
            f'the checkpoint does not match an official ResNet-{found} + CBAM: '
            + (f'unknown keys {unknown[:20]}' + (' ...' if len(unknown) > 20 else '')
               if unknown else '')
            + ('; ' if unknown and missing else '')
            + (f'missing keys {missing[:20]}' + (' ...' if len(missing) > 20 else '')
               if missing else ''))
    ordered = OrderedDict((k, out[k]) for k in expected)
    return ordered, dict(depth=found, mapped=mapped, kept=kept, dropped=dropped, filled=filled,
                         derived=derived)


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
                    converter='mm_cbam.converters.official',
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
