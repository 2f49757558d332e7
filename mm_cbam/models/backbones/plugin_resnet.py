"""Plugins (CBAM or any mmcv plugin) in ResNet-18/34, and stacked plugins done right.

mmdet's and mmseg's ``BasicBlock`` assert ``plugins is None``; their ``Bottleneck`` accepts
``plugins`` at ``after_conv1/2/3``. The mixins here, combined with each codebase's own classes in
:mod:`.mmdet_resnet` and :mod:`.mmseg_resnet`, give the upstream ResNets a BasicBlock that takes
the same ``plugins`` syntax:

* ``after_conv1``: after conv1 -> norm1 -> ReLU (``planes`` channels);
* ``after_conv2``: after conv2 -> norm2, before the residual addition (``planes`` channels) --
  the CBAM paper's placement, the BasicBlock counterpart of Bottleneck's ``after_conv3``.

Several plugins at one position are applied in order, each to the previous one's output. (The
Bottleneck of mmsegmentation 1.2.2 applies every plugin to the block's input and keeps only the
last result, so a stacked CBAM silently does nothing; the Bottleneck used here for depths 50+ does
it right, in mmdet as in mmseg.) Parameter names of the plain network are unchanged, so a plain
ResNet checkpoint loads with only the plugin keys missing.
"""
from typing import Dict

import torch.utils.checkpoint as cp
from mmcv.cnn import build_plugin_layer

from ..checks import BASIC_BLOCK_POSITIONS, BOTTLENECK_POSITIONS, check_plugins

_DEFAULT_INIT = [
    dict(type='Kaiming', layer='Conv2d'),
    dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])
]


class PluginBasicBlockMixin:
    """A codebase's ``BasicBlock`` with plugins at ``after_conv1`` / ``after_conv2``."""

    def __init__(self, inplanes, planes, *args, plugins=None, **kwargs):
        super().__init__(inplanes, planes, *args, plugins=None, **kwargs)
        self.plugin_names: Dict[str, list] = {p: [] for p in BASIC_BLOCK_POSITIONS}
        for plugin in plugins or []:
            position = plugin.get('position')
            if position not in BASIC_BLOCK_POSITIONS:
                raise ValueError(
                    f'a BasicBlock (ResNet-18/34) has two convolutions: plugin position must be '
                    f"one of {BASIC_BLOCK_POSITIONS}, got {position!r} (Bottleneck's "
                    "'after_conv3' corresponds to 'after_conv2' here)")
            cfg = dict(plugin['cfg'])
            name, layer = build_plugin_layer(cfg, in_channels=planes,
                                             postfix=cfg.pop('postfix', ''))
            if hasattr(self, name):
                raise ValueError(f'duplicate plugin {name!r} in a BasicBlock: give the plugins '
                                 "different 'postfix' values")
            self.add_module(name, layer)
            self.plugin_names[position].append(name)

    def _plugins(self, x, position):
        for name in self.plugin_names[position]:
            x = getattr(self, name)(x)
        return x

    def forward(self, x):
        """conv1-norm1-relu, plugins, conv2-norm2, plugins, + identity, relu."""

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


class PluginBottleneckMixin:
    """A codebase's ``Bottleneck`` whose stacked plugins are applied in sequence."""

    def forward_plugin(self, x, plugin_names):
        out = x
        for name in plugin_names:
            out = getattr(self, name)(out)
        return out


def plugin_arch_settings(resnet, basic_block, bottleneck) -> dict:
    """``resnet.arch_settings`` with the plugin-capable blocks."""
    return {depth: (basic_block if depth in (18, 34) else bottleneck, stages)
            for depth, (_, stages) in resnet.arch_settings.items()}


class PluginResNetMixin:
    """A codebase's ResNet whose stages use the plugin-capable blocks (``arch_settings`` from
    :func:`plugin_arch_settings`); its ``plugins`` are checked at construction."""

    def __init__(self, *args, **kwargs):
        depth = kwargs.get('depth', args[0] if args else None)
        positions = BASIC_BLOCK_POSITIONS if depth in (18, 34) else BOTTLENECK_POSITIONS
        check_plugins(kwargs.get('plugins'), kwargs.get('num_stages', 4), positions, 'plugins')
        super().__init__(*args, **kwargs)

    def make_res_layer(self, **kwargs):
        """Upstream zero-initialises the last norm of every block when it initialises the
        network itself (``block is BasicBlock`` / ``Bottleneck``); keep that for the plugin
        blocks."""
        block = kwargs.get('block')
        norm = 'norm2' if isinstance(block, type) and issubclass(
            block, PluginBasicBlockMixin) else 'norm3'
        if (kwargs.get('init_cfg') is None and self.zero_init_residual
                and self.init_cfg == _DEFAULT_INIT):
            kwargs['init_cfg'] = dict(type='Constant', val=0, override=dict(name=norm))
        return super().make_res_layer(**kwargs)


def define_plugin_resnets(codebase: str, module: str, registry, basic_block, bottleneck,
                          resnets: Dict[str, type]) -> Dict[str, type]:
    """The plugin-capable blocks and ``Plugin<ResNet>`` backbones of one codebase (its own
    ``BasicBlock`` / ``Bottleneck`` and ResNet classes), each ResNet registered in ``registry``.
    Returns ``name -> class`` for the calling ``module`` to bind (so the classes pickle by name).
    """
    blocks = dict(
        PluginBasicBlock=type('PluginBasicBlock', (PluginBasicBlockMixin, basic_block), dict(
            __module__=module,
            __doc__=f"{codebase}'s BasicBlock with plugins at after_conv1 / after_conv2.")),
        PluginBottleneck=type('PluginBottleneck', (PluginBottleneckMixin, bottleneck), dict(
            __module__=module,
            __doc__=f"{codebase}'s Bottleneck applying stacked plugins in order.")))
    out = dict(blocks)
    for name, resnet in resnets.items():
        cls = type(f'Plugin{name}', (PluginResNetMixin, resnet), dict(
            __module__=module, __doc__=f"{codebase}'s {name} with plugins in ResNet-18/34 too.",
            arch_settings=plugin_arch_settings(resnet, blocks['PluginBasicBlock'],
                                               blocks['PluginBottleneck'])))
        out[cls.__name__] = registry.register_module(module=cls)
    return out
