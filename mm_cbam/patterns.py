"""Dotted module-path patterns (``'backbone.layer3.*.conv2'``), shared by ``InsertCBAM``, the
overlay and CAM tools and folding; needs neither mmcv nor a model."""
import re


def pattern_to_regex(pattern: str) -> 're.Pattern':
    """``'backbone.layer3.*.conv2'``: ``*`` = one name component, ``**`` = any number."""
    if not pattern or not isinstance(pattern, str):
        raise ValueError(f'module pattern must be a non-empty string, got {pattern!r}')
    parts = []
    for comp in pattern.split('.'):
        if comp == '**':
            parts.append(r'(?:[^.]+(?:\.[^.]+)*)')
        else:
            parts.append(re.escape(comp).replace(r'\*', r'[^.]*').replace(r'\?', r'[^.]'))
    return re.compile(r'\.'.join(parts) + r'\Z')


_STAGE = re.compile(r'(?:^|\.)(layer\d+|stage\d+|stages\.\d+|layers\.\d+|s\d+)(\.cbam)?(?=\.|$)')


def stage_of(name: str) -> str:
    """The backbone stage of an attention module, from its dotted name: ``layer3`` (ResNet),
    ``stage2`` (CSPNeXt / CSPDarknet), ``stages.1`` (Swin, ConvNeXt), ``layers.2`` (MiT), ``s3``
    (RegNet); attention on a stage's output (``backbone.layer3.cbam``) -> ``layer3:out``; anything
    in the neck -> ``neck``; otherwise the first name component."""
    m = _STAGE.search(name)
    if m:
        return m.group(1) + (':out' if m.group(2) else '')
    return 'neck' if name.startswith('neck') else name.split('.')[0]
