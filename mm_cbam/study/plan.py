"""The runs of a study: one config file per run holding the run's whole delta, and what is left
to do.

Every run has a folder ``<study dir>/<variant>/seed<k>/`` (``pretrain/`` for the insert
scenario's plain model) with ``config.py``: the base config with the variant's attention, the
study's run options, the seed and the pretrained checkpoint merged in and dumped in full -- no
``_base_`` path, no ``--cfg-options``: the file alone says what ran. Every study run validates
before its first step (``ExtraValidationHook``) and every ``validation.interval`` after, and keeps
what each validation evaluated (``EvalDumpHook``). File names come from
:mod:`mm_cbam.runner.run_files`. A run's status comes from its files alone (:func:`run_status`).
"""
import copy
import os
import os.path as osp
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from ..runner import run_files
from .spec import Study, StudyError, Variant

# study runs draw no attention overlays (the base configs' CBAMVisualizationHook): images at
# every validation of every run would cost minutes and serve no comparison
SKIPPED_HOOKS = ('CBAMVisualizationHook', )


def study_hooks(study: Study) -> List[dict]:
    """Every variant run validates before the first step and at the end of every warm-up in
    the study (the reference too, for the paired differences) and keeps what it evaluated."""
    ends = {v.warmup_iters for v in study.variants.values() if v.warmup_iters}
    return [dict(type='ExtraValidationHook', at=sorted({0} | ends)), dict(type='EvalDumpHook')]


@dataclass
class Run:
    """One training run of a study."""
    key: str  # 'pretrain' or '<variant>/seed<k>'
    variant: Optional[str]
    seed: int
    work_dir: str
    final_checkpoint: str
    status: str = 'new'

    @property
    def config(self) -> str:
        return run_files.run_config(self.work_dir)


def _attach_placement(model: dict, placement: dict, cbam: dict) -> dict:
    """``model`` (a config dict) with ``cbam`` placed as ``placement`` says."""
    model = copy.deepcopy(model)
    if 'plugins' in placement:
        spec = dict(placement['plugins'])
        backbone = model['backbone']
        if spec.get('type'):
            backbone['type'] = spec.pop('type')
        backbone['plugins'] = list(backbone.get('plugins') or []) + [dict(
            cfg=copy.deepcopy(cbam), stages=tuple(spec['stages']), position=spec['position'])]
        return model
    if placement.get('neck'):
        neck = model.get('neck')
        if not isinstance(neck, dict) or 'type' not in neck:
            raise StudyError('placement with neck=True needs a model with a neck')
        rest = {k: v for k, v in neck.items() if k != 'type'}
        model['neck'] = dict(type='CBAMNeck', neck_type=neck['type'], cbam=copy.deepcopy(cbam),
                             **rest)
    if placement.get('after'):
        entry = dict(after=list(placement['after']), cbam=copy.deepcopy(cbam))
        if model['type'] == 'InsertCBAM':  # a second placement (the calibration's)
            model['insert'] = list(model['insert']) + [entry]
        else:
            rest = {k: v for k, v in model.items() if k != 'type'}
            model = dict(type='InsertCBAM', model_type=model['type'], insert=[entry], **rest)
    return model


def variant_model(study: Study, variant: Variant, model: dict) -> dict:
    """The model config of ``variant``: the reference unchanged, the calibration in every
    placement at once, any other variant in its own placement."""
    if variant.cbam is None:
        return copy.deepcopy(model)
    placements = [variant.placement] if variant.placement else list(study.placements)
    for name in placements:
        model = _attach_placement(model, study.placements[name], variant.cbam)
    return model


def _base(study: Study):
    from ..runner.config import load_config
    return load_config(study.base_config)


def set_options(cfg, options: dict) -> None:
    """Set every dotted key of ``options`` in ``cfg`` to its value; a dict value replaces the
    whole entry (no merging: a study's options say exactly what the run uses)."""
    from mmengine.config import ConfigDict
    for key, value in options.items():
        node = cfg
        parts = key.split('.')
        for part in parts[:-1]:
            if isinstance(node, list):
                node = node[int(part)]
                continue
            if not isinstance(node.get(part), (dict, list)):
                node[part] = ConfigDict()
            node = node[part]
        if isinstance(node, list):
            node[int(parts[-1])] = copy.deepcopy(value)
        else:
            node[parts[-1]] = copy.deepcopy(value)


def run_config(study: Study, variant: Optional[Variant], seed: int,
               load_from: Optional[str], options: dict, key: str):
    """The whole config of run ``key`` (a mmengine ``Config``)."""
    cfg = _base(study)
    set_options(cfg, options)
    if variant is not None:
        cfg.model = variant_model(study, variant, cfg.model.to_dict())
        hooks = [h for h in cfg.get('custom_hooks') or []
                 if h.get('type') not in SKIPPED_HOOKS] + study_hooks(study)
        cfg.custom_hooks = hooks + copy.deepcopy(variant.hooks)
        loop = cfg.train_cfg
        loop['val_interval'] = study.validation['interval']
        # validations are keyed by iteration (the dumps are), also in epoch-based schedules
        if isinstance(cfg.get('default_hooks', {}).get('logger'), dict):
            cfg.default_hooks.logger['log_metric_by_epoch'] = False
    set_options(cfg, study.user_options)
    cfg.randomness = dict(seed=seed, deterministic=True)
    cfg.load_from = load_from
    cfg.resume = False
    if cfg.get('visualizer'):  # mmengine keeps visualizers by name: one per run, several runs
        cfg.visualizer['name'] = 'visualizer_' + key.replace('/', '_')  # share a worker
    return cfg


def pretrain_run(study: Study) -> Optional[Tuple[Run, object]]:
    """The insert scenario's plain model (run and config), unless the study names a
    checkpoint."""
    if study.scenario != 'insert' or study.pretrain.get('checkpoint'):
        return None
    work = osp.join(study.work_dir, 'pretrain')
    cfg = run_config(study, None, study.pretrain.get('seed', 0), None,
                     dict(study.pretrain.get('cfg_options') or {}), 'pretrain')
    return Run('pretrain', None, study.pretrain.get('seed', 0), work,
               run_files.final_checkpoint(cfg, work)), cfg


def plan_runs(study: Study, write: bool = True) -> List[Run]:
    """Every run of ``study`` in execution order (pretrain first), configs written, status set."""
    runs: List[Run] = []
    configs: Dict[str, object] = {}
    load_from = None
    if study.scenario == 'insert':
        load_from = study.pretrain.get('checkpoint')
        planned = pretrain_run(study)
        if planned is not None:
            run, cfg = planned
            runs.append(run)
            configs[run.key] = cfg
            load_from = run.final_checkpoint
    for name, variant in study.variants.items():
        for seed in study.seeds:
            work = osp.join(study.work_dir, name, f'seed{seed}')
            cfg = run_config(study, variant, seed, load_from, study.run_options,
                             f'{name}/seed{seed}')
            run = Run(f'{name}/seed{seed}', name, seed, work, run_files.final_checkpoint(cfg, work))
            runs.append(run)
            configs[run.key] = cfg
    for run in runs:
        if write and run_status(run) != 'done':
            os.makedirs(run.work_dir, exist_ok=True)
            configs[run.key].dump(run.config)
        run.status = run_status(run)
    return runs


def run_status(run: Run) -> str:
    """From the run's files: ``done`` (measured; the pretraining: trained), ``measure``
    (trained or stopped by a guard, not measured yet), ``resume`` (a checkpoint exists),
    ``new``."""
    if osp.isfile(run_files.measure_path(run.work_dir)) or (
            run.key == 'pretrain' and osp.isfile(run.final_checkpoint)):
        return 'done'
    if osp.isfile(run.final_checkpoint) or osp.isfile(run_files.stopped_path(run.work_dir)):
        return 'measure'
    if osp.isfile(osp.join(run.work_dir, run_files.LAST_CHECKPOINT)):
        return 'resume'
    return 'new'
