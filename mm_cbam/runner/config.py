"""Configs as mm_cbam's tools load them: ``--cfg-options`` merged, ``custom_imports`` imported,
the codebase (mmdet or mmseg) from ``default_scope``, the work dir as mmdet's tools choose it,
the model config checked (:mod:`mm_cbam.models.checks`), the training guards added, old
config paths resolved through :mod:`.renames`."""
import copy
import os
import os.path as osp
import re
from typing import Optional


def _scopes(path: str, seen=None) -> set:
    """Packages a config file and its local bases refer to with ``pkg::`` base paths."""
    seen = set() if seen is None else seen
    path = os.path.abspath(path)
    if path in seen or not os.path.isfile(path):
        return set()
    seen.add(path)
    with open(path) as f:
        text = f.read()
    found = set(re.findall(r"""['"](\w+)::""", text))
    for base in re.findall(r"""['"]((?:\.\.?/|[\w-]+/)[^'":]*\.py)['"]""", text):
        found |= _scopes(os.path.join(os.path.dirname(path), base), seen)
    return found


def load_config(path: str, cfg_options: Optional[dict] = None):
    """Load an mm_cbam / mmdet / mmseg config, apply ``--cfg-options`` and import its modules.

    A config whose bases live in a package that is not installed (``mmdet::...`` without mmdet)
    fails with :class:`~mm_cbam.optional.MissingPackageError` naming the package to install.
    """
    from mmengine.config import Config

    from ..optional import PACKAGES, require
    from .renames import resolve_config_path
    path = resolve_config_path(path)
    try:
        cfg = Config.fromfile(path)  # imports custom_imports too
    except Exception as exc:
        for package in sorted(_scopes(path) & set(PACKAGES)):
            require(package, f'{path} (its _base_ refers to {package}::)')
        _name_missing_package(exc, f'{path} (custom_imports)')
        raise
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if cfg.get('custom_imports'):
        from mmengine.utils import import_modules_from_strings
        try:
            import_modules_from_strings(**cfg['custom_imports'])
        except ImportError as exc:
            _name_missing_package(exc, f'{path} (custom_imports)')
            raise
    return cfg


def _name_missing_package(exc: BaseException, needed_for: str) -> None:
    """Raise :class:`~mm_cbam.optional.MissingPackageError` if ``exc`` was caused by a known
    package or extra that is not installed (e.g. ``mmpretrain.models`` without the ``pretrain``
    extra; mmengine wraps the original error)."""
    from ..optional import EXTRA_PACKAGES, PACKAGES, require
    while exc is not None:
        if isinstance(exc, ModuleNotFoundError):
            package = (exc.name or '').split('.')[0]
            if package in PACKAGES or package in EXTRA_PACKAGES:
                require(package, needed_for)
        exc = exc.__cause__ or exc.__context__


def task_of(cfg) -> str:
    """``'det'`` or ``'seg'`` from a config's default scope."""
    scope = cfg.get('default_scope')
    if scope == 'mmdet':
        return 'det'
    if scope == 'mmseg':
        return 'seg'
    raise ValueError(f"{cfg.filename}: default_scope is {scope!r}; mm_cbam tools run mmdet "
                     "('mmdet') and mmseg ('mmseg') configs")


def register_scope(task: str):
    """Register all modules of mmdet / mmseg and make it the default scope (a clear error
    naming the package to install if it is missing)."""
    from ..optional import require
    package = 'mmdet' if task == 'det' else 'mmseg'
    require(package, f"a {'detection' if task == 'det' else 'segmentation'} config "
            f"(default_scope='{package}')")
    import importlib
    importlib.import_module(f'{package}.utils').register_all_modules(init_default_scope=True)


def build_model(cfg):
    """Build ``cfg.model`` in the config's scope (weights are not initialised from files).
    ``cfg`` is left as it was (mmseg's and mmdet's DETR constructors edit the dicts they get),
    so the same config builds again."""
    from mmengine.registry import MODELS, DefaultScope
    task = task_of(cfg)
    register_scope(task)
    scope = 'mmdet' if task == 'det' else 'mmseg'
    with DefaultScope.overwrite_default_scope(scope):
        return MODELS.build(copy.deepcopy(cfg.model))


def prepare_config(config: str, work_dir=None, cfg_options=None, launcher: str = 'none'):
    """Load ``config`` as mmdet/mmseg tools do: ``--cfg-options`` merged, ``launcher`` set,
    work_dir = CLI > config > ``work_dirs/<config name>``."""
    from ..models.checks import check_model_config
    from ..optional import require
    cfg = load_config(config, cfg_options)
    cfg.launcher = launcher
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(cfg.filename))[0])
    package = 'mmdet' if task_of(cfg) == 'det' else 'mmseg'  # or a clear error
    require(package, f"{config} (default_scope='{package}')")
    register_scope(task_of(cfg))
    check_model_config(cfg.model, package)
    return cfg


def add_training_guards(cfg) -> None:
    """Every run of ``mm_cbam.train``: :class:`~mm_cbam.engine.hooks.FiniteCheckpointHook` in
    place of mmengine's ``CheckpointHook`` (same arguments) and a
    :class:`~mm_cbam.engine.hooks.NonFiniteStopHook` unless the config has one (configure it
    with ``stop=False`` to keep a diverging run going)."""
    checkpoint = (cfg.get('default_hooks') or {}).get('checkpoint')
    if isinstance(checkpoint, dict) and checkpoint.get('type') == 'CheckpointHook':
        checkpoint['type'] = 'FiniteCheckpointHook'
    hooks = list(cfg.get('custom_hooks') or [])
    if not any(isinstance(h, dict) and h.get('type') == 'NonFiniteStopHook' for h in hooks):
        cfg.custom_hooks = hooks + [dict(type='NonFiniteStopHook')]


def build_runner(cfg):
    """The config's runner (``runner_type``) or mmengine's Runner, as mmdet's tools build it."""
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)
