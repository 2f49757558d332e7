"""OpenMMLab glue: attention in backbones, necks and anywhere by module path.

* :mod:`.resnet` -- ``PluginResNet*``: mmdet/mmseg ResNets whose ResNet-18/34 BasicBlock accepts
  ``plugins`` (upstream asserts ``plugins is None``) and whose stacked plugins compose;
* :mod:`.attach` -- attach attention to a module's output (``insert_cbam``,
  ``MultiLevelAttention``);
* :mod:`.builders` -- config builders ``CBAMNeck`` and ``InsertCBAM``.

Imported by ``import mm_cbam`` when mmcv and at least one of mmdet / mmsegmentation are
installed (:data:`PACKAGES`). The builders are registered at once. The plugin ResNets need the
codebase's models, whose import takes seconds, so they are registered when that codebase's
``MODELS`` registry is first used -- mmengine then imports the registry's locations, to which
``mm_cbam.models.register_<package>`` is added -- or at once if it is already in use. A detection
run thus never imports mmsegmentation's models, and the other way round.
"""
import importlib
from typing import Dict

from ..optional import available
from .attach import MultiLevelAttention, attach, infer_out_channels, insert_cbam
from .builders import register_builders
from .resnet import BASIC_BLOCK_POSITIONS, register_plugin_resnets

_found = available()
PACKAGES = tuple(p for p in ('mmdet', 'mmseg') if _found[p])
REGISTERED: Dict[str, dict] = {}  # package -> {(scope, name): class} once registered


def register(package: str) -> None:
    """Register the plugin ResNets in ``package``'s MODELS registry (idempotent)."""
    if package not in REGISTERED:
        REGISTERED[package] = register_plugin_resnets((package, ))


def _register_when_used(package: str) -> None:
    registry = importlib.import_module(f'{package}.registry').MODELS
    if registry._imported:
        register(package)
    else:
        registry._locations.append(f'{__name__}.register_{package}')


register_builders(PACKAGES)
for _package in PACKAGES:
    _register_when_used(_package)

__all__ = [
    'MultiLevelAttention', 'attach', 'infer_out_channels', 'insert_cbam', 'register',
    'BASIC_BLOCK_POSITIONS', 'PACKAGES', 'REGISTERED'
]
