"""Plugins (CBAM or any mmcv plugin) in ResNet-18/34, and stacked plugins done right.

mmdet's and mmseg's ``BasicBlock`` assert ``plugins is None``; their ``Bottleneck`` accepts
``plugins`` at ``after_conv1/2/3``. The backbones registered here are the upstream ResNets with a
BasicBlock that takes the same ``plugins`` syntax:

* ``after_conv1``: after conv1 -> norm1 -> ReLU (``planes`` channels);
* ``after_conv2``: after conv2 -> norm2, before the residual addition (``planes`` channels) --
  the CBAM paper's placement, the BasicBlock counterpart of Bottleneck's ``after_conv3``.

Several plugins at one position are applied in order, each to the previous one's output. (The
Bottleneck of mmsegmentation 1.2.2 applies every plugin to the block's input and keeps only the
last result, so a stacked CBAM silently does nothing; the Bottleneck used here for depths 50+ does
it right, in mmdet as in mmseg.)

Registered names: ``PluginResNet`` and ``PluginResNetV1d`` in mmdet, ``PluginResNet``,
``PluginResNetV1c`` and ``PluginResNetV1d`` in mmseg -- in the registries of the packages that are
installed. Parameter names of the plain network are unchanged, so a plain ResNet checkpoint loads
with only the plugin keys missing.
"""
from typing import Dict, Type

import torch.utils.checkpoint as cp
from mmcv.cnn import build_plugin_layer

from .checks import BASIC_BLOCK_POSITIONS, BOTTLENECK_POSITIONS, check_plugins

_DEFAULT_INIT = [
    dict(type='Kaiming', layer='Conv2d'),
    dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])
]


def make_plugin_basic_block(base: Type) -> Type:
    """Subclass of an upstream ``BasicBlock`` that accepts ``plugins``."""

    class PluginBasicBlock(base):
        __doc__ = f'{base.__module__}.BasicBlock with plugins at {BASIC_BLOCK_POSITIONS}.'

        def __init__(self, inplanes, planes, *args, plugins=None, **kwargs):
            super().__init__(inplanes, planes, *args, plugins=None, **kwargs)
            self.plugin_names: Dict[str, list] = {p: [] for p in BASIC_BLOCK_POSITIONS}
            for plugin in plugins or []:
                position = plugin.get('position')
                if position not in BASIC_BLOCK_POSITIONS:
                    raise ValueError(
                        f'a BasicBlock (ResNet-18/34) has two convolutions: plugin position must '
                        f"be one of {BASIC_BLOCK_POSITIONS}, got {position!r} (Bottleneck's "
                        "'after_conv3' corresponds to 'after_conv2' here)")
                cfg = dict(plugin['cfg'])
                name, layer = build_plugin_layer(cfg, in_channels=planes,
                                                 postfix=cfg.pop('postfix', ''))
                if hasattr(self, name):
                    raise ValueError(f'duplicate plugin {name!r} in a BasicBlock: give the '
                                     "plugins different 'postfix' values")
                self.add_module(name, layer)
                self.plugin_names[position].append(name)

        def _plugins(self, x, position):
            for name in self.plugin_names[position]:
                x = getattr(self, name)(x)
            return x

        def forward(self, x):

            def _inner_forward(x):
                identity = x
                out = self.relu(self.norm1(self.conv1(x)))
                out = self._plugins(out, 'after_conv1')
                out = self.norm2(self.conv2(out))
                out = self._plugins(out, 'after_conv2')
                if self.downsample is not None:
                    identity = self.downsample(x)
                return out + identity

            if self.with_cp and x.requires_grad:
                out = cp.checkpoint(_inner_forward, x, use_reentrant=False)
            else:
                out = _inner_forward(x)
            return self.relu(out)

    PluginBasicBlock.__name__ = PluginBasicBlock.__qualname__ = 'PluginBasicBlock'
    return PluginBasicBlock


def make_plugin_bottleneck(base: Type) -> Type:
    """Subclass of an upstream ``Bottleneck`` whose stacked plugins are applied in sequence."""

    class PluginBottleneck(base):
        __doc__ = f'{base.__module__}.Bottleneck applying stacked plugins in order.'

        def forward_plugin(self, x, plugin_names):
            out = x
            for name in plugin_names:
                out = getattr(self, name)(out)
            return out

    PluginBottleneck.__name__ = PluginBottleneck.__qualname__ = 'PluginBottleneck'
    return PluginBottleneck


def make_plugin_resnet(base: Type, basic_block: Type, bottleneck: Type) -> Type:
    """Subclass of an upstream ResNet whose stages use the plugin-capable blocks."""
    settings = {depth: (basic_block if depth in (18, 34) else bottleneck, stages)
                for depth, (_, stages) in base.arch_settings.items()}
    residual_norm = {basic_block: 'norm2', bottleneck: 'norm3'}

    def make_res_layer(self, **kwargs):
        # Upstream zero-initialises the last norm of every block when it initialises the network
        # itself (`block is BasicBlock` / `block is Bottleneck`); keep that for the subclasses.
        norm = residual_norm.get(kwargs.get('block'))
        if (norm and kwargs.get('init_cfg') is None and self.zero_init_residual
                and self.init_cfg == _DEFAULT_INIT):
            kwargs['init_cfg'] = dict(type='Constant', val=0, override=dict(name=norm))
        return base.make_res_layer(self, **kwargs)

    def __init__(self, *args, **kwargs):
        depth = kwargs.get('depth', args[0] if args else None)
        positions = BASIC_BLOCK_POSITIONS if depth in (18, 34) else BOTTLENECK_POSITIONS
        check_plugins(kwargs.get('plugins'), kwargs.get('num_stages', 4), positions, 'plugins')
        base.__init__(self, *args, **kwargs)

    name = 'Plugin' + base.__name__
    return type(name, (base, ), {
        '__init__': __init__,
        'arch_settings': settings,
        'make_res_layer': make_res_layer,
        '__doc__': (f'{base.__module__}.{base.__name__} with plugins in ResNet-18/34 '
                    'as well and stacked plugins applied in order.'),
        '__module__': __name__,
    })


RESNETS = {'mmdet': ('ResNet', 'ResNetV1d'), 'mmseg': ('ResNet', 'ResNetV1c', 'ResNetV1d')}


def register_plugin_resnets(packages=('mmdet', 'mmseg')) -> Dict[tuple, Type]:
    """Register the plugin-capable ResNets in the MODELS registries of ``packages``."""
    import importlib
    registered = {}
    for package in packages:
        module = importlib.import_module(f'{package}.models.backbones.resnet')
        registry = importlib.import_module(f'{package}.registry').MODELS
        basic_block = make_plugin_basic_block(module.BasicBlock)
        bottleneck = make_plugin_bottleneck(module.Bottleneck)
        for name in RESNETS[package]:
            cls = make_plugin_resnet(getattr(module, name), basic_block, bottleneck)
            registry.register_module('Plugin' + name, module=cls, force=True)
            registered[(registry.scope, 'Plugin' + name)] = cls
    return registered
