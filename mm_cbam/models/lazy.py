"""Registration of a codebase's classes when that codebase's registry is first used.

A detection run never imports mmsegmentation's models (seconds of import time), and the other
way round: ``mm_cbam.models.backbones.mmdet_resnet`` is added to the locations mmengine imports
when mmdet's ``MODELS`` is first used, or imported at once if it already is. mmengine has no
public API for this, so :func:`register_when_used` is the one place that touches the registry's
private ``_imported`` and ``_locations`` (``tests/test_models/test_lazy.py`` fails loudly if
mmengine changes them).
"""
import importlib


def register_when_used(package: str, module: str) -> None:
    """Import ``module`` (which registers classes in ``package``'s MODELS) when that registry is
    first used, or now if it already was."""
    registry = importlib.import_module(f'{package}.registry').MODELS
    if registry._imported:
        importlib.import_module(module)
    elif module not in registry._locations:
        registry._locations.append(module)
