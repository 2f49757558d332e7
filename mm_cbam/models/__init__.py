"""OpenMMLab glue: attention in backbones, necks and anywhere by module path.

* :mod:`.backbones` -- ``PluginResNet*``: mmdet/mmseg ResNets whose ResNet-18/34 BasicBlock
  accepts ``plugins`` (upstream asserts ``plugins is None``) and whose stacked plugins compose;
  registered in a codebase's registry when it is first used (:mod:`.lazy`);
* :mod:`.attach` -- attach attention to a module's output without renaming parameters;
* :mod:`.multi_level` -- ``CBAMNeck`` / ``CBAMBackbone`` (attention on neck / backbone
  outputs), :mod:`.insert` -- ``InsertCBAM`` (after any module, by pattern; NCHW, NHWC or token
  layouts), all registered in mmengine's root ``MODELS``;
* :mod:`.checks` -- config checks with clear messages; :mod:`.plain` -- a model config without
  its attention.

Imported by ``import mm_cbam`` when mmcv and at least one of mmdet / mmsegmentation are
installed.
"""
from ..optional import available
from .attach import attach, infer_out_channels
from .insert import InsertCBAM, insert_cbam
from .lazy import register_when_used
from .multi_level import CBAMBackbone, CBAMNeck, MultiLevelAttention
from .plain import plain_model_config

_found = available()
PACKAGES = tuple(p for p in ('mmdet', 'mmseg') if _found[p])
for _package in PACKAGES:
    register_when_used(_package, f'{__name__}.backbones.{_package}_resnet')

__all__ = [
    'CBAMBackbone', 'CBAMNeck', 'InsertCBAM', 'MultiLevelAttention', 'attach', 'infer_out_channels',
    'insert_cbam', 'plain_model_config', 'register_when_used', 'PACKAGES'
]
