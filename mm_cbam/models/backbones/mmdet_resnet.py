"""mmdet's ResNets with plugins in ResNet-18/34 and stacked plugins applied in order
(:mod:`.plugin_resnet`), registered in mmdet's ``MODELS``: ``PluginResNet``,
``PluginResNetV1d``. Imported when mmdet's registry is first used (:mod:`mm_cbam.models.lazy`)."""
from mmdet.models.backbones.resnet import BasicBlock, Bottleneck, ResNet, ResNetV1d
from mmdet.registry import MODELS

from .plugin_resnet import (PluginBasicBlockMixin, PluginBottleneckMixin, PluginResNetMixin,
                            plugin_arch_settings)


class PluginBasicBlock(PluginBasicBlockMixin, BasicBlock):
    """mmdet's BasicBlock with plugins at ``after_conv1`` / ``after_conv2``."""


class PluginBottleneck(PluginBottleneckMixin, Bottleneck):
    """mmdet's Bottleneck applying stacked plugins in order."""


@MODELS.register_module()
class PluginResNet(PluginResNetMixin, ResNet):
    """mmdet's ResNet with plugins in ResNet-18/34 too."""
    arch_settings = plugin_arch_settings(ResNet, PluginBasicBlock, PluginBottleneck)


@MODELS.register_module()
class PluginResNetV1d(PluginResNetMixin, ResNetV1d):
    """mmdet's ResNetV1d with plugins in ResNet-18/34 too."""
    arch_settings = plugin_arch_settings(ResNetV1d, PluginBasicBlock, PluginBottleneck)
