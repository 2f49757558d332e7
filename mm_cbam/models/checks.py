"""Config checks that turn upstream bare ``AssertionError`` / ``KeyError`` into messages naming
the config key, the value and what is allowed. Run by ``tools/train.py`` / ``tools/test.py``
before anything is built, and by the plugin ResNets' constructors."""
import difflib
from typing import Iterator, Optional, Sequence, Tuple

BOTTLENECK_POSITIONS = ('after_conv1', 'after_conv2', 'after_conv3')
BASIC_BLOCK_POSITIONS = ('after_conv1', 'after_conv2')
# upstream ResNets whose depths 18/34 reject plugins (mm_cbam's Plugin* accept them)
UPSTREAM_RESNETS = ('ResNet', 'ResNetV1c', 'ResNetV1d')


class ConfigCheckError(ValueError):
    """A config value that cannot work, named with its key and what is allowed."""


def lookup_type(type_name, scope: Optional[str], key: str):
    """The class registered as ``type_name`` in ``scope``'s MODELS (or its parents); a
    :class:`ConfigCheckError` naming ``key`` and the closest registered names otherwise."""
    from mmengine.registry import MODELS
    if not isinstance(type_name, str):
        return type_name  # a class given directly
    with MODELS.switch_scope_and_registry(scope) as registry:
        found = registry.get(type_name)
        if found is not None:
            return found
        names = set()
        while registry is not None:
            names |= set(registry.module_dict)
            registry = registry.parent
    close = difflib.get_close_matches(type_name, sorted(names), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ''
    raise ConfigCheckError(f"{key}: type={type_name!r} is not a registered module"
                           f"{f' in {scope}' if scope else ''}{hint}")


def check_plugins(plugins, num_stages: int, positions: Sequence[str], key: str,
                  scope: Optional[str] = None) -> None:
    """Validate a backbone's ``plugins`` list: each entry ``dict(cfg=dict(type=...),
    position=..., stages=...)`` with a registered type, an allowed position and ``stages`` a
    sequence of ``num_stages`` booleans."""
    if plugins is None:
        return
    if not isinstance(plugins, (list, tuple)):
        raise ConfigCheckError(f'{key} must be a list of dict(cfg=..., position=..., '
                               f'stages=...), got {plugins!r}')
    for i, plugin in enumerate(plugins):
        where = f'{key}[{i}]'
        if not isinstance(plugin, dict) or not isinstance(plugin.get('cfg'), dict) or \
                'type' not in plugin['cfg']:
            raise ConfigCheckError(f"{where} must be dict(cfg=dict(type=...), position=..., "
                                   f"stages=...), got {plugin!r}")
        lookup_type(plugin['cfg']['type'], scope, f'{where}.cfg')
        if plugin.get('position') not in positions:
            raise ConfigCheckError(f"{where}.position={plugin.get('position')!r} is not "
                                   f'supported here; allowed values: {positions}')
        stages = plugin.get('stages')
        if stages is not None and (isinstance(stages, str) or not isinstance(
                stages, (list, tuple)) or len(stages) != num_stages or not all(
                    isinstance(s, bool) for s in stages)):
            raise ConfigCheckError(f'{where}.stages must be a tuple of {num_stages} booleans '
                                   f'(one per stage, e.g. {(False, ) + (True, ) * (num_stages - 1)}'
                                   f'), got {stages!r}')


def _backbones(obj, key: str = 'model') -> Iterator[Tuple[str, dict]]:
    """(key, config) of every dict with ``plugins`` in a model config."""
    if isinstance(obj, dict):
        if 'plugins' in obj:
            yield key, obj
        for k, v in obj.items():
            yield from _backbones(v, f'{key}.{k}')
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from _backbones(v, f'{key}[{i}]')


def check_model_config(model_cfg, scope: str) -> None:
    """Check every ``plugins`` list of a model config (ResNet-style backbones)."""
    for key, cfg in _backbones(model_cfg):
        plugins, depth = cfg.get('plugins'), cfg.get('depth')
        if not plugins:
            continue
        basic = depth in (18, 34)
        if basic and cfg.get('type') in UPSTREAM_RESNETS:
            raise ConfigCheckError(
                f"{key}: ResNet-{depth} uses BasicBlock, whose upstream version rejects plugins; "
                f"use type='Plugin{cfg.get('type')}' (mm_cbam), positions "
                f'{BASIC_BLOCK_POSITIONS}')
        check_plugins(plugins, cfg.get('num_stages', 4),
                      BASIC_BLOCK_POSITIONS if basic else BOTTLENECK_POSITIONS,
                      f'{key}.plugins', scope)
