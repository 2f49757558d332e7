"""Study files: what a stability study compares, validated before anything runs.

A study file is an mmengine config (``configs/studies/*.py``) with these keys:

* ``base_config``: the plain model's config (path relative to the study file);
* ``scenario``: ``'insert'`` (a plain baseline is trained first -- ``pretrain`` -- or taken from
  ``pretrain.checkpoint``, then every variant is fine-tuned from it with attention inserted) or
  ``'scratch'`` (every variant trained from scratch);
* ``seeds``: the seeds of every variant (a list of ints);
* ``variants``: ``name -> spec``; a spec holds any of ``cbam`` (attention config placed as
  ``placement`` says), ``neck_cbam`` (attention on every neck output, ``CBAMNeck``), ``config``
  (a config delta merged into the base), ``cfg_options`` (dotted options), ``hooks`` (custom hooks
  added to the base config's) and ``description``;
* ``reference``: the variant the others are compared with (default ``'baseline'``, no attention);
* ``placement``: ``dict(backbone=dict(type=..., stages=..., position=...))`` -- where ``cbam``
  goes (a plugin of every block of the chosen stages);
* ``pretrain``: ``dict(cfg_options={...}, seed=0, test=True)`` or ``dict(checkpoint='...')``
  (insert; ``test=False`` skips evaluating the pretrained baseline);
* ``run``: ``dict(cfg_options={...})`` for every variant run (its length, learning rate, logging);
* ``lr_mult``: the stress knob, multiplies the learning rate of every variant run;
* ``metric``: the metric the report compares (``'coco/bbox_mAP'``, ``'mIoU'``);
* ``measure``: ``shock_iters``, ``recovery_tol``, ``recovery_window``, ``spike_factor``,
  ``spike_window`` (see :mod:`mm_cbam.study.measure`).
"""
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

STUDY_KEYS = {'base_config', 'scenario', 'seeds', 'variants', 'reference', 'placement', 'pretrain',
              'run', 'lr_mult', 'metric', 'measure', 'description'}
VARIANT_KEYS = {'cbam', 'neck_cbam', 'config', 'cfg_options', 'hooks', 'description'}
PRETRAIN_KEYS = {'cfg_options', 'seed', 'checkpoint', 'test'}
MEASURE_DEFAULTS = dict(shock_iters=20, recovery_tol=0.05, recovery_window=5, spike_factor=1.5,
                        spike_window=10)
SCENARIOS = ('insert', 'scratch')


class StudyError(ValueError):
    """A study file or a study option is invalid (raised before anything runs)."""


@dataclass
class Study:
    """A validated study."""
    name: str
    path: str
    base_config: str
    scenario: str
    seeds: List[int]
    variants: Dict[str, dict]
    reference: str
    placement: dict
    pretrain: dict
    run_options: dict
    lr_mult: float
    metric: str
    measure: dict
    description: str = ''
    user_options: dict = field(default_factory=dict)
    work_dir: str = ''


def _check_keys(what: str, given, allowed) -> None:
    if not isinstance(given, dict):
        raise StudyError(f'{what} must be a dict, got {type(given).__name__}')
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise StudyError(f'{what}: unknown key(s) {unknown}; allowed keys: {sorted(allowed)}')


def _seeds(value, source: str) -> List[int]:
    if isinstance(value, bool) or not isinstance(value, (list, tuple)) or not value or any(
            isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in value):
        raise StudyError(f'{source} must be a non-empty list of seeds (integers >= 0), '
                         f'got {value!r}')
    if len(set(value)) != len(value):
        raise StudyError(f'{source} repeats a seed: {value!r}')
    return list(value)


def load_study(path: str, seeds: Optional[int] = None, only: Optional[Sequence[str]] = None,
               lr_mult: Optional[float] = None, work_root: str = 'work_dirs/studies',
               cfg_options: Optional[dict] = None) -> Study:
    """Load and validate a study file; command-line overrides as in ``tools/study.py``."""
    if not osp.isfile(path):
        raise StudyError(f'study file not found: {path}')
    from mmengine.config import Config
    raw = Config.fromfile(path).to_dict()
    _check_keys(f'study file {path}', raw, STUDY_KEYS)
    for key in ('base_config', 'variants'):
        if key not in raw:
            raise StudyError(f'study file {path} needs {key!r}')
    base = raw['base_config']
    if not isinstance(base, str):
        raise StudyError(f"base_config must be a path, got {base!r}")
    base_path = base if osp.isabs(base) else osp.normpath(osp.join(osp.dirname(path), base))
    if not osp.isfile(base_path):
        raise StudyError(f'base_config not found: {base} (resolved to {base_path})')
    scenario = raw.get('scenario', 'insert')
    if scenario not in SCENARIOS:
        raise StudyError(f'scenario={scenario!r} is not supported; allowed values: '
                         + ', '.join(repr(s) for s in SCENARIOS))
    seed_list = _seeds(raw.get('seeds', [0, 1]), 'seeds')
    if seeds is not None:
        if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
            raise StudyError(f'--seeds must be a number of seeds >= 1, got {seeds!r}')
        seed_list = list(range(seeds))
    variants = raw['variants']
    if not isinstance(variants, dict) or not variants:
        raise StudyError('variants must be a non-empty dict of name -> spec')
    for name, spec in variants.items():
        _check_keys(f'variant {name!r}', spec, VARIANT_KEYS)
    reference = raw.get('reference', 'baseline')
    if reference not in variants:
        raise StudyError(f'reference variant {reference!r} is not among the variants '
                         f'{sorted(variants)}')
    if set(variants[reference]) - {'description', 'cfg_options'}:
        raise StudyError(f'the reference variant {reference!r} must add no attention (only '
                         'description / cfg_options)')
    placement = raw.get('placement') or {}
    if any('cbam' in v for v in variants.values()):
        backbone = placement.get('backbone') if isinstance(placement, dict) else None
        if not isinstance(backbone, dict) or not {'stages', 'position'} <= set(backbone):
            raise StudyError("variants with 'cbam' need placement=dict(backbone=dict(stages=..., "
                             "position=...[, type=...]))")
    if only:
        unknown = [v for v in only if v not in variants]
        if unknown:
            raise StudyError(f'--only: unknown variant(s) {unknown}; the study has '
                             f'{sorted(variants)}')
        keep = set(only) | {reference}
        variants = {k: v for k, v in variants.items() if k in keep}
    pretrain = raw.get('pretrain') or {}
    _check_keys('pretrain', pretrain, PRETRAIN_KEYS)
    run = raw.get('run') or {}
    _check_keys('run', run, {'cfg_options'})
    measure = dict(MEASURE_DEFAULTS)
    _check_keys('measure', raw.get('measure') or {}, MEASURE_DEFAULTS)
    measure.update(raw.get('measure') or {})
    mult = raw.get('lr_mult', 1.0) if lr_mult is None else lr_mult
    if isinstance(mult, bool) or not isinstance(mult, (int, float)) or not mult > 0:
        raise StudyError(f'lr_mult must be a positive number, got {mult!r}')
    name = osp.splitext(osp.basename(path))[0] + ('' if mult == 1 else f'-lr{mult:g}')
    return Study(name=name, path=path, base_config=base_path, scenario=scenario,
                 seeds=seed_list, variants=variants, reference=reference,
                 placement=placement, pretrain=pretrain,
                 run_options=dict(run.get('cfg_options') or {}), lr_mult=float(mult),
                 metric=raw.get('metric', 'coco/bbox_mAP'), measure=measure,
                 description=raw.get('description', ''), user_options=dict(cfg_options or {}),
                 work_dir=osp.join(work_root, name))
