"""mmdet's ResNets with plugins in ResNet-18/34 and stacked plugins applied in order
(:mod:`.plugin_resnet`), registered in mmdet's ``MODELS``: ``PluginResNet``,
``PluginResNetV1d``. Imported when mmdet's registry is first used (:mod:`mm_cbam.models.lazy`)."""
from mmdet.models.backbones.resnet import BasicBlock, Bottleneck, ResNet, ResNetV1d
from mmdet.registry import MODELS

from .plugin_resnet import define_plugin_resnets

_classes = define_plugin_resnets('mmdet', __name__, MODELS, BasicBlock, Bottleneck,
                                 dict(ResNet=ResNet, ResNetV1d=ResNetV1d))
PluginBasicBlock = _classes['PluginBasicBlock']
PluginBottleneck = _classes['PluginBottleneck']
PluginResNet = _classes['PluginResNet']
PluginResNetV1d = _classes['PluginResNetV1d']
