"""mmseg's ResNets with plugins in ResNet-18/34 and stacked plugins applied in order
(:mod:`.plugin_resnet`; mmseg's own Bottleneck keeps only the last of stacked plugins),
registered in mmseg's ``MODELS``: ``PluginResNet``, ``PluginResNetV1c``, ``PluginResNetV1d``.
Imported when mmseg's registry is first used (:mod:`mm_cbam.models.lazy`)."""
from mmseg.models.backbones.resnet import BasicBlock, Bottleneck, ResNet, ResNetV1c, ResNetV1d
from mmseg.registry import MODELS

from .plugin_resnet import define_plugin_resnets

_classes = define_plugin_resnets('mmseg', __name__, MODELS, BasicBlock, Bottleneck,
                                 dict(ResNet=ResNet, ResNetV1c=ResNetV1c, ResNetV1d=ResNetV1d))
PluginBasicBlock = _classes['PluginBasicBlock']
PluginBottleneck = _classes['PluginBottleneck']
PluginResNet = _classes['PluginResNet']
PluginResNetV1c = _classes['PluginResNetV1c']
PluginResNetV1d = _classes['PluginResNetV1d']
