"""OpenMMLab glue: attention in backbones, necks and anywhere by module path.

* :mod:`.resnet` -- ``PluginResNet*``: mmdet/mmseg ResNets whose ResNet-18/34 BasicBlock accepts
  ``plugins`` (upstream asserts ``plugins is None``);
* :mod:`.attach` -- attach attention to a module's output (``insert_cbam``,
  ``MultiLevelAttention``);
* :mod:`.builders` -- config builders ``CBAMNeck`` and ``InsertCBAM``.

Imported by ``import mm_cbam`` when mmcv and at least one of mmdet / mmsegmentation are
installed; registers into the registries of the installed ones (:data:`REGISTERED`).
"""
from .attach import MultiLevelAttention, attach, infer_out_channels, insert_cbam
from .builders import register_builders
from .resnet import BASIC_BLOCK_POSITIONS, register_plugin_resnets

from ..optional import available

_found = available()
PACKAGES = tuple(p for p in ('mmdet', 'mmseg') if _found[p])
REGISTERED = dict(register_plugin_resnets(PACKAGES))
register_builders(PACKAGES)

__all__ = [
    'MultiLevelAttention', 'attach', 'infer_out_channels', 'insert_cbam',
    'BASIC_BLOCK_POSITIONS', 'PACKAGES', 'REGISTERED'
]
