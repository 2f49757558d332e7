"""OpenMMLab glue: attention in backbones, necks and anywhere by module path.

* :mod:`.resnet` -- ``PluginResNet*``: mmdet/mmseg ResNets whose ResNet-18/34 BasicBlock accepts
  ``plugins`` (upstream asserts ``plugins is None``);
* :mod:`.attach` -- attach attention to a module's output (``insert_cbam``,
  ``MultiLevelAttention``);
* :mod:`.builders` -- config builders ``CBAMNeck`` and ``InsertCBAM``.
"""
from .attach import MultiLevelAttention, attach, infer_out_channels, insert_cbam
from .builders import register_builders
from .resnet import BASIC_BLOCK_POSITIONS, register_plugin_resnets

register_plugin_resnets()
register_builders()

__all__ = [
    'MultiLevelAttention', 'attach', 'infer_out_channels', 'insert_cbam',
    'BASIC_BLOCK_POSITIONS'
]
