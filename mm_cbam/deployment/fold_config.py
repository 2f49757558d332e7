"""Which config entry created each attention module, and the model config without the modules
that can be folded away.

Attention comes from three kinds of config entries, each with its own granularity:

* a backbone plugin (``plugins=[dict(cfg=CBAM..., stages=..., position=...)]``) applies to
  every block of the stages it names: a stage can leave the entry (its ``stages`` flag set to
  False) only if every module the entry put in that stage can go;
* ``CBAMNeck`` refines ``levels``: a level can leave ``levels``; no level left (or a ``shared``
  module folded) gives the plain neck;
* ``InsertCBAM`` attaches after the modules its patterns match: the entry's ``after`` becomes
  the exact names of the modules that stay; no entry left gives the wrapped ``model_type``.

:func:`fold_model_config` returns the new model config and, per module, whether it is folded
and why (not).
"""
import copy
import re
from typing import Dict, List, Optional, Sequence, Tuple

from ..models.plain import ATTENTION_TYPES, plain_model_config
from ..patterns import pattern_to_regex

_PLUGIN = re.compile(r'backbone\.layer(\d+)\.(\d+)\.([^.]+)\Z')
_NECK = re.compile(r'neck\.(?:cbam\.)?(?:levels\.(\d+)|attention)\Z')


def plugin_name(cfg: dict) -> str:
    """The child name mmcv's ``build_plugin_layer`` gives a plugin: abbreviation + postfix."""
    from mmcv.cnn.bricks.plugin import infer_abbr
    from mmengine.registry import MODELS
    return infer_abbr(MODELS.get(cfg['type'])) + str(cfg.get('postfix', ''))


def origin(name: str, model_cfg: dict) -> Optional[Tuple]:
    """``('plugin', entry index, stage index)``, ``('neck', level or None)``,
    ``('insert', entry index, module name)`` or None (unknown origin) for attention ``name``."""
    backbone = model_cfg.get('backbone') or {}
    m = _PLUGIN.match(name)
    if m:
        stage = int(m.group(1)) - 1
        for j, entry in enumerate(backbone.get('plugins') or []):
            cfg = entry.get('cfg') or {}
            stages = entry.get('stages')
            in_stage = stages is None or (stage < len(stages) and stages[stage])
            if cfg.get('type') in ATTENTION_TYPES and plugin_name(cfg) == m.group(3) and in_stage:
                return ('plugin', j, stage)
    neck = model_cfg.get('neck') or {}
    m = _NECK.match(name)
    if m and neck.get('type') == 'CBAMNeck':
        return ('neck', None if m.group(1) is None else int(m.group(1)))
    if model_cfg.get('type') == 'InsertCBAM' and name.endswith('.cbam'):
        return ('insert', None, name[:-len('.cbam')])
    return None


def _insert_matches(model, entries: Sequence[dict]) -> List[List[str]]:
    """Per ``InsertCBAM`` entry, the modules it attached attention to (as :func:`insert_cbam`
    matched them)."""
    names = [n for n, _ in model.named_modules()
             if n and '.cbam.' not in f'.{n}.' and not n.endswith('.cbam')]
    out = []
    for entry in entries:
        after = entry['after']
        regexes = [pattern_to_regex(p) for p in ([after] if isinstance(after, str) else after)]
        out.append([n for n in names if any(r.match(n) for r in regexes)])
    return out


def fold_model_config(model_cfg: dict, model, candidates: Dict[str, str],
                      keep_reasons: Dict[str, str]):
    """The model config without the foldable modules.

    Args:
        model_cfg: the model config (not modified).
        model: the model built from it.
        candidates: attention modules that may go, name -> why (e.g. ``alpha = 0``).
        keep_reasons: attention modules that must stay, name -> why.

    Returns:
        ``(new_model_cfg, decisions)``; ``decisions`` maps every attention module to
        ``(folded, reason)``.
    """
    cfg = copy.deepcopy(model_cfg)
    decisions = {n: (False, r) for n, r in keep_reasons.items()}
    groups: Dict[Tuple, List[str]] = {}
    for name in list(candidates) + list(keep_reasons):
        where = origin(name, model_cfg)
        if where is None:
            decisions[name] = (False, 'not created by a backbone plugin, CBAMNeck or InsertCBAM '
                               'entry: the config cannot drop it')
            continue
        key = where[:2] if where[0] == 'insert' else where
        groups.setdefault(key, []).append(name)
    # a group (plugin entry x stage, neck level, ...) folds when all its modules may go
    for key, names in groups.items():
        blockers = [n for n in names if n not in candidates]
        for name in names:
            if name not in candidates:
                continue
            if blockers and key[0] == 'plugin':
                decisions[name] = (False, f'{blockers[0]} in the same stage stays '
                                   f'({keep_reasons[blockers[0]]}); plugin entry {key[1]} '
                                   f'applies to whole stages')
            else:
                decisions[name] = (True, candidates[name])
    folded = {n for n, (f, _) in decisions.items() if f}
    _fold_plugins(cfg, groups, folded)
    _fold_neck(cfg, groups, folded)
    _fold_insert(cfg, model, folded)
    return cfg, decisions


def _fold_plugins(cfg: dict, groups, folded) -> None:
    backbone = cfg.get('backbone')
    plugins = list((backbone or {}).get('plugins') or [])
    if not plugins:
        return
    num_stages = backbone.get('num_stages', 4)
    drop = []
    for j, entry in enumerate(plugins):
        stages = list(entry.get('stages') or [True] * num_stages)
        for (kind, index, *rest), names in groups.items():
            if kind == 'plugin' and index == j and all(n in folded for n in names):
                stages[rest[0]] = False
        if not any(stages):
            drop.append(j)
        elif entry.get('stages') is not None or not all(stages):
            plugins[j] = dict(entry, stages=tuple(stages))
    kept = [p for j, p in enumerate(plugins) if j not in drop]
    backbone['plugins'] = kept or None


def _fold_neck(cfg: dict, groups, folded) -> None:
    neck = cfg.get('neck')
    if not isinstance(neck, dict) or neck.get('type') != 'CBAMNeck':
        return
    names = [n for key, ns in groups.items() if key[0] == 'neck' for n in ns]
    gone = [n for n in names if n in folded]
    if not gone:
        return
    if neck.get('shared') or len(gone) == len(names):
        cfg['neck'] = plain_model_config(neck)
        return
    levels = [int(_NECK.match(n).group(1)) for n in names if n not in folded]
    neck['levels'] = tuple(sorted(levels))


def _fold_insert(cfg: dict, model, folded) -> None:
    if cfg.get('type') != 'InsertCBAM':
        return
    entries = list(cfg['insert'])
    matches = _insert_matches(model, entries)
    kept = []
    for entry, targets in zip(entries, matches):
        stay = [t for t in targets if f'{t}.cbam' not in folded]
        if len(stay) == len(targets):
            kept.append(entry)
        elif stay:
            kept.append(dict(entry, after=stay))
    if kept:
        cfg['insert'] = kept
        return
    model_type = cfg['model_type']
    rest = {k: v for k, v in cfg.items() if k not in ('type', 'model_type', 'insert')}
    cfg.clear()
    cfg.update(type=model_type, **rest)
