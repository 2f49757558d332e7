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
