"""Study files: what a stability study compares, validated before anything runs.

A study file is an mmengine config (``configs/studies/*.py``; the shared defaults are in
``configs/studies/_base_/``). Its keys:

* ``base_config``: the plain model's config (relative to the study file);
* ``scenario``: ``'insert'`` (a plain model is trained first -- ``pretrain`` -- or taken from
  ``pretrain.checkpoint``, then every variant is fine-tuned from it with attention inserted) or
  ``'scratch'`` (every variant trained from scratch);
* ``seeds``: the seeds of every variant;
* ``cbam_variants`` / ``cbam_variant_hooks``: the catalogue (``configs/_base_/cbam_variants.py``
  as a ``_base_``); ``variant_hooks`` overrides the catalogue's hooks (e.g. a shorter warm-up);
* ``placements``: ``name -> where the attention goes``, each one of
  ``dict(plugins=dict(stages=..., position=...[, type=...]))`` (a plugin in every block of the
  stages: the residual branch) or ``dict(after=[module patterns][, neck=True])`` (after each
  matched module -- e.g. every backbone stage's output, the main path -- and on every neck
  output);
* ``stabilisers``: catalogue names crossed with every placement (``<placement>/<stabiliser>``);
* ``reference`` (``'baseline'``: no attention) and ``calibration`` (``'aa_null'``: attention
  inserted as an exact no-op, in every placement at once; its row must read exactly zero);
* ``pretrain``: ``dict(cfg_options={...}, seed=0)`` or ``dict(checkpoint=PATH_OR_URL)``;
* ``run``: ``dict(cfg_options={...})`` set in every variant run (length, learning rate,
  logging, frozen BN ...): each dotted key is set to its value, a dict value replacing the whole
  entry (``pretrain.cfg_options`` and ``--cfg-options`` likewise);
* ``validation``: ``dict(interval=N)``: validation every N units of the training loop
  (iterations, or epochs for an epoch-based loop) and once before the first step
  (``damage@0``);
* ``metric`` and ``equivalence_margin`` (the TOST margin, in the metric's units), ``alpha``;
* ``measure``: ``shock_iters``, ``recovery_tol``, ``recovery_window``, ``spike_factor``,
  ``spike_window``, ``components`` (the loss terms compared one by one), ``bootstrap`` (resamples
  of the validation images).

:func:`load_study` checks all of it and names the problem (``StudyError``).
"""
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

STUDY_KEYS = {'base_config', 'scenario', 'seeds', 'cbam_variants', 'cbam_variant_hooks',
              'variant_hooks', 'placements', 'stabilisers', 'reference', 'calibration',
              'pretrain', 'run', 'validation', 'metric', 'equivalence_margin', 'alpha',
              'measure', 'description'}
PRETRAIN_KEYS = {'cfg_options', 'seed', 'checkpoint'}
PLACEMENT_KEYS = {'plugins', 'after', 'neck'}
MEASURE_DEFAULTS = dict(shock_iters=10, recovery_tol=0.05, recovery_window=5, spike_factor=1.5,
                        spike_window=10, components=(), bootstrap=200)
SCENARIOS = ('insert', 'scratch')


class StudyError(ValueError):
    """A study file or a study option is invalid (raised before anything runs)."""


def _check_measure(measure: dict) -> None:
    for key in ('shock_iters', 'recovery_window', 'spike_window', 'bootstrap'):
        value = measure[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < (
                0 if key == 'bootstrap' else 1):
            raise StudyError(f'measure.{key} must be an integer >= '
                             f"{0 if key == 'bootstrap' else 1}, got {value!r}")
    for key in ('recovery_tol', 'spike_factor'):
        value = measure[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise StudyError(f'measure.{key} must be a positive number, got {value!r}')
    components = measure['components']
    if not isinstance(components, (list, tuple)) or not all(
            isinstance(c, str) and c for c in components):
        raise StudyError("measure.components must be a list of loss names, e.g. "
                         f"['loss_cls', 'loss_bbox'], got {components!r}")


@dataclass
class Variant:
    """One arm of a study: where attention goes and which options it has."""
    name: str
    placement: Optional[str] = None  # None: the reference, or the calibration (every placement)
    stabiliser: Optional[str] = None
    cbam: Optional[dict] = None
    hooks: List[dict] = field(default_factory=list)

    @property
    def warmup_iters(self) -> Optional[int]:
        """The length of this variant's alpha warm-up, if it has one."""
        for hook in self.hooks:
            if hook.get('type') == 'CBAMAlphaWarmupHook':
                return hook.get('iters')
        return None


@dataclass
class Study:
    """A validated study."""
    name: str
    path: str
    base_config: str
    scenario: str
    seeds: List[int]
    variants: Dict[str, Variant]
    placements: Dict[str, dict]
    reference: str
    calibration: Optional[str]
    pretrain: dict
    run_options: dict
    validation: dict
    metric: str
    margin: float
    alpha: float
    measure: dict
    description: str = ''
    user_options: dict = field(default_factory=dict)
    work_dir: str = ''
    selection: str = ''  # '' for the study's own seeds and variants, else e.g. 'seeds5-9'


def _check_keys(what: str, given, allowed) -> None:
    if not isinstance(given, dict):
        raise StudyError(f'{what} must be a dict, got {type(given).__name__}')
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise StudyError(f'{what}: unknown key(s) {unknown}; allowed keys: {sorted(allowed)}')


def parse_seeds(value, source: str) -> List[int]:
    """Seeds from a list of ints or a string: ``'0-4'``, ``'5,6,7'``, ``'3'`` (the first N)."""
    if isinstance(value, str):
        text = value.replace(' ', '')
        try:
            if '-' in text:
                lo, hi = (int(p) for p in text.split('-'))
                value = list(range(lo, hi + 1))
            elif ',' in text:
                value = [int(p) for p in text.split(',') if p]
            else:
                value = list(range(int(text)))
        except ValueError:
            raise StudyError(f"{source} must look like '0-4', '5,6,7' or a count, got "
                             f'{value!r}') from None
    if isinstance(value, bool) or not isinstance(value, (list, tuple)) or not value or any(
            isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in value):
        raise StudyError(f'{source} must be a non-empty list of seeds (integers >= 0), '
                         f'got {value!r}')
    if len(set(value)) != len(value):
        raise StudyError(f'{source} repeats a seed: {value!r}')
    return list(value)


def _placements(raw) -> Dict[str, dict]:
    if not isinstance(raw, dict):
        raise StudyError(f'placements must be a dict of name -> placement, got {raw!r}')
    out = {}
    for name, spec in (raw or {}).items():
        _check_keys(f'placement {name!r}', spec, PLACEMENT_KEYS)
        if ('plugins' in spec) == ('after' in spec or spec.get('neck', False)):
            raise StudyError(f"placement {name!r} needs either plugins=dict(stages=..., "
                             "position=...) or after=[module patterns] (and/or neck=True)")
        if 'plugins' in spec:
            plugins = spec['plugins']
            if not isinstance(plugins, dict) or not {'stages', 'position'} <= set(plugins):
                raise StudyError(f'placement {name!r}: plugins must be dict(stages=..., '
                                 f'position=...[, type=...]), got {plugins!r}')
        if 'after' in spec and (not isinstance(spec['after'], (list, tuple)) or not all(
                isinstance(p, str) and p for p in spec['after'])):
            raise StudyError(f"placement {name!r}: after must be a list of module patterns, "
                             f"got {spec['after']!r}")
        out[name] = dict(spec)
    if '/' in ''.join(out):
        raise StudyError('placement names may not contain "/"')
    return out


def _variants(raw: dict, placements: Dict[str, dict], reference: str,
              calibration: Optional[str]) -> Dict[str, Variant]:
    catalogue = raw.get('cbam_variants') or {}
    if not catalogue:
        raise StudyError("the study file has no cbam_variants: add "
                         "'../_base_/cbam_variants.py' to its _base_")
    hooks = dict(raw.get('cbam_variant_hooks') or {})
    hooks.update(raw.get('variant_hooks') or {})
    stabilisers = raw.get('stabilisers') or []
    if not isinstance(stabilisers, (list, tuple)) or not stabilisers:
        raise StudyError('stabilisers must be a non-empty list of catalogue names')
    unknown = [s for s in stabilisers if s not in catalogue]
    if unknown:
        raise StudyError(f'stabilisers {unknown} are not in the catalogue '
                         f'(cbam_variants: {sorted(catalogue)})')
    if not placements:
        raise StudyError('placements must name at least one placement')
    variants = {reference: Variant(reference)}
    if calibration is not None:
        if calibration not in catalogue:
            raise StudyError(f'calibration {calibration!r} is not in the catalogue')
        variants[calibration] = Variant(calibration, None, calibration,
                                        dict(catalogue[calibration]), [])
    for placement in placements:
        for name in stabilisers:
            key = f'{placement}/{name}'
            variants[key] = Variant(key, placement, name, dict(catalogue[name]),
                                    [dict(h) for h in hooks.get(name, [])])
    return variants


def seeds_label(seeds: List[int]) -> str:
    """``seeds5-9`` for a consecutive range, ``seeds1`` / ``seeds0_2_7`` otherwise (file names)."""
    if len(seeds) > 1 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f'seeds{seeds[0]}-{seeds[-1]}'
    return 'seeds' + '_'.join(map(str, seeds))


def load_study(path: str, seeds=None, only: Optional[Sequence[str]] = None,
               work_root: str = 'work_dirs/studies', cfg_options: Optional[dict] = None) -> Study:
    """Load and validate a study file; command-line selections as in ``mm_cbam.study``."""
    if not osp.isfile(path):
        raise StudyError(f'study file not found: {path}')
    from mmengine.config import Config
    try:
        raw = Config.fromfile(path).to_dict()
    except Exception as exc:  # noqa: BLE001 - a broken study file, named
        raise StudyError(f'study file {path} cannot be loaded: {exc}') from None
    _check_keys(f'study file {path}', raw, STUDY_KEYS)
    for key in ('base_config', 'placements', 'stabilisers'):
        if key not in raw:
            raise StudyError(f'study file {path} needs {key!r}')
    base = raw['base_config']
    if not isinstance(base, str):
        raise StudyError(f'base_config must be a path, got {base!r}')
    base_path = base if osp.isabs(base) else osp.normpath(osp.join(osp.dirname(path), base))
    if not osp.isfile(base_path):
        raise StudyError(f'base_config not found: {base} (resolved to {base_path})')
    scenario = raw.get('scenario', 'insert')
    if scenario not in SCENARIOS:
        raise StudyError(f'scenario={scenario!r} is not supported; allowed values: '
                         + ', '.join(repr(s) for s in SCENARIOS))
    own_seeds = parse_seeds(raw.get('seeds', [0, 1, 2, 3, 4]), 'seeds')
    seed_list = own_seeds if seeds is None else parse_seeds(seeds, '--seeds')
    reference = raw.get('reference', 'baseline')
    calibration = raw.get('calibration', 'aa_null')
    placements = _placements(raw['placements'])
    variants = _variants(raw, placements, reference, calibration)
    selection = []
    if seed_list != own_seeds:
        selection.append(seeds_label(seed_list))
    if only:
        unknown = [v for v in only if v not in variants]
        if unknown:
            raise StudyError(f'--only: unknown variant(s) {unknown}; the study has '
                             f'{sorted(variants)}')
        keep = set(only) | {reference} | ({calibration} if calibration else set())
        variants = {k: v for k, v in variants.items() if k in keep}
        selection.append('only-' + '+'.join(o.replace('/', '.') for o in only))
    pretrain = raw.get('pretrain') or {}
    _check_keys('pretrain', pretrain, PRETRAIN_KEYS)
    if scenario == 'insert' and not pretrain:
        raise StudyError("an insert study needs pretrain=dict(cfg_options=..., seed=...) or "
                         "pretrain=dict(checkpoint=...)")
    run = raw.get('run') or {}
    _check_keys('run', run, {'cfg_options'})
    validation = raw.get('validation') or {}
    _check_keys('validation', validation, {'interval'})
    interval = validation.get('interval')
    if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
        raise StudyError(f'validation.interval must be an integer >= 1, got {interval!r}')
    measure = dict(MEASURE_DEFAULTS)
    _check_keys('measure', raw.get('measure') or {}, MEASURE_DEFAULTS)
    measure.update(raw.get('measure') or {})
    _check_measure(measure)
    margin = raw.get('equivalence_margin')
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not margin > 0:
        raise StudyError(f'equivalence_margin must be a positive number (in units of the '
                         f'metric), got {margin!r}')
    alpha = raw.get('alpha', 0.05)
    if not isinstance(alpha, float) or not 0 < alpha < 0.5:
        raise StudyError(f'alpha must be a number in (0, 0.5), got {alpha!r}')
    name = osp.splitext(osp.basename(path))[0]
    return Study(name=name, path=osp.abspath(path), base_config=osp.abspath(base_path),
                 scenario=scenario, seeds=seed_list, variants=variants, placements=placements,
                 reference=reference, calibration=calibration, pretrain=pretrain,
                 run_options=dict(run.get('cfg_options') or {}), validation=validation,
                 metric=raw.get('metric', 'coco/bbox_mAP'), margin=float(margin),
                 alpha=alpha, measure=measure, description=raw.get('description', ''),
                 user_options=dict(cfg_options or {}), work_dir=osp.join(work_root, name),
                 selection='_'.join(selection))
