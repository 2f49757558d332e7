"""mmseg's ResNets with plugins in ResNet-18/34 and stacked plugins applied in order
(:mod:`.plugin_resnet`), registered in mmseg's ``MODELS``: ``PluginResNet``,
``PluginResNetV1c``, ``PluginResNetV1d``. Imported when mmseg's registry is first used
(:mod:`mm_cbam.models.lazy`)."""
from mmseg.models.backbones.resnet import BasicBlock, Bottleneck, ResNet, ResNetV1c, ResNetV1d
from mmseg.registry import MODELS

from .plugin_resnet import (PluginBasicBlockMixin, PluginBottleneckMixin, PluginResNetMixin,
                            plugin_arch_settings)


class PluginBasicBlock(PluginBasicBlockMixin, BasicBlock):
    """mmseg's BasicBlock with plugins at ``after_conv1`` / ``after_conv2``."""


class PluginBottleneck(PluginBottleneckMixin, Bottleneck):
    """mmseg's Bottleneck applying stacked plugins in order (upstream keeps only the last)."""


@MODELS.register_module()
class PluginResNet(PluginResNetMixin, ResNet):
    """mmseg's ResNet with plugins in ResNet-18/34 too."""
    arch_settings = plugin_arch_settings(ResNet, PluginBasicBlock, PluginBottleneck)


@MODELS.register_module()
class PluginResNetV1c(PluginResNetMixin, ResNetV1c):
    """mmseg's ResNetV1c with plugins in ResNet-18/34 too."""
    arch_settings = plugin_arch_settings(ResNetV1c, PluginBasicBlock, PluginBottleneck)


@MODELS.register_module()
class PluginResNetV1d(PluginResNetMixin, ResNetV1d):
    """mmseg's ResNetV1d with plugins in ResNet-18/34 too."""
    arch_settings = plugin_arch_settings(ResNetV1d, PluginBasicBlock, PluginBottleneck)
