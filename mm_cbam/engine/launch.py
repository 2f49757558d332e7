"""Launch-time support shared by ``tools/train.py`` and ``tools/test.py``.

* :func:`check_init_checkpoints` -- a missing local pretrained checkpoint fails before anything
  is built (with the converter command for the official CBAM weights); dataset files are
  checked by :mod:`.data_checks`.
* :func:`setup_cpu_distributed` -- multi-process runs without GPUs. mmengine's ``init_dist``
  calls ``torch.cuda.set_device`` and its DDP wrapper passes ``device_ids=[LOCAL_RANK]``, so
  ``--launcher pytorch|slurm|mpi`` fails on CPU-only machines. When CUDA is unavailable this
  initialises the process group with the gloo backend from the launcher's environment, wraps the
  model in DDP without ``device_ids`` and turns SyncBN into BN (SyncBN needs GPUs). With GPUs
  nothing changes: mmengine sets up NCCL as usual.
"""
import os
import os.path as osp
import re
import subprocess
from typing import Iterator, Tuple

import torch


def _pretrained_checkpoints(obj, path: str = 'model') -> Iterator[Tuple[str, str]]:
    """(config path, checkpoint) of every ``init_cfg=dict(type='Pretrained', ...)`` in ``obj``."""
    if isinstance(obj, dict):
        if obj.get('type') == 'Pretrained' and isinstance(obj.get('checkpoint'), str):
            yield path, obj['checkpoint']
        for key, value in obj.items():
            yield from _pretrained_checkpoints(value, f'{path}.{key}')
    elif isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            yield from _pretrained_checkpoints(value, f'{path}[{i}]')


def check_init_checkpoints(cfg) -> None:
    """Raise FileNotFoundError naming every local ``Pretrained`` checkpoint that is missing, with
    the command that creates it when mm_cbam knows one (the converted official CBAM weights)."""
    missing = []
    for where, checkpoint in _pretrained_checkpoints(cfg.get('model')):
        if '://' in checkpoint or osp.exists(checkpoint):
            continue
        text = f'{where}.checkpoint: {checkpoint}'
        m = re.search(r'resnet(\d+)_cbam_official', osp.basename(checkpoint))
        if m:
            text += ('\n    create it from the official CBAM ImageNet weights '
                     '(Jongchan/attention-module, e.g. RESNET50_CBAM_new_name_wrap.pth):\n'
                     f'    python tools/model_converters/cbam_official.py OFFICIAL.pth {checkpoint}'
                     f' --depth {m.group(1)}')
        missing.append(text)
    if missing:
        raise FileNotFoundError('pretrained checkpoint not found:\n  ' + '\n  '.join(missing))


def _to_bn(obj):
    if isinstance(obj, dict):
        if obj.get('type') in ('SyncBN', 'MMSyncBN'):
            obj['type'] = 'BN'
        for value in obj.values():
            _to_bn(value)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            _to_bn(value)


def _first_slurm_host(node_list: str) -> str:
    """The first host of a Slurm node list (``scontrol show hostname``), 127.0.0.1 without
    scontrol."""
    try:
        proc = subprocess.run(['scontrol', 'show', 'hostname', node_list], capture_output=True,
                              text=True, timeout=30)
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return '127.0.0.1'
    hosts = proc.stdout.split() if proc.returncode == 0 else []
    return hosts[0] if hosts else '127.0.0.1'


def _launcher_env(launcher: str) -> None:
    """Fill RANK / WORLD_SIZE / LOCAL_RANK / MASTER_* from the launcher's variables."""
    env = os.environ
    if launcher == 'slurm':
        env.setdefault('MASTER_PORT', '29500')
        if 'MASTER_ADDR' not in env:
            env['MASTER_ADDR'] = _first_slurm_host(env['SLURM_NODELIST'])
        env['WORLD_SIZE'] = env['SLURM_NTASKS']
        env['RANK'] = env['SLURM_PROCID']
        env['LOCAL_RANK'] = env.get('SLURM_LOCALID', '0')
    elif launcher == 'mpi':
        env.setdefault('MASTER_PORT', '29500')
        if 'MASTER_ADDR' not in env:
            raise KeyError('the MPI launcher needs MASTER_ADDR in the environment')
        env['WORLD_SIZE'] = env['OMPI_COMM_WORLD_SIZE']
        env['RANK'] = env['OMPI_COMM_WORLD_RANK']
        env['LOCAL_RANK'] = env.get('OMPI_COMM_WORLD_LOCAL_RANK', '0')
    elif launcher != 'pytorch':
        raise ValueError(f"launcher must be one of 'none', 'pytorch', 'slurm', 'mpi', got "
                         f'{launcher!r}')


def setup_cpu_distributed(cfg, launcher: str) -> bool:
    """Prepare a multi-process run on CPUs (gloo). Returns True when it did something."""
    if launcher == 'none' or torch.cuda.is_available():
        return False
    import torch.distributed as dist
    _launcher_env(launcher)
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo', init_method='env://')
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = 'gloo'
    wrapper = dict(cfg.get('model_wrapper_cfg') or dict(type='MMDistributedDataParallel'))
    wrapper.setdefault('broadcast_buffers', False)
    wrapper.setdefault('find_unused_parameters', cfg.get('find_unused_parameters', False))
    wrapper['device_ids'] = None  # CPU modules: DDP must not be given device ids
    cfg.model_wrapper_cfg = wrapper
    _to_bn(cfg.model)
    return True


def prepare_config(config: str, work_dir=None, cfg_options=None, launcher: str = 'none'):
    """Load ``config`` as mmdet/mmseg tools do: ``--cfg-options`` merged, ``launcher`` set,
    work_dir = CLI > config > ``work_dirs/<config name>``."""
    from ..models.checks import check_model_config
    from ..optional import require
    from ..utils import load_config, register_scope, task_of
    cfg = load_config(config, cfg_options)
    cfg.launcher = launcher
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(config))[0])
    package = 'mmdet' if task_of(cfg) == 'det' else 'mmseg'  # or a clear error
    require(package, f"{config} (default_scope='{package}')")
    register_scope(task_of(cfg))
    check_model_config(cfg.model, package)
    return cfg


def add_training_guards(cfg) -> None:
    """Every run of ``tools/train.py``: :class:`~mm_cbam.engine.hooks.FiniteCheckpointHook` in
    place of mmengine's ``CheckpointHook`` (same arguments) and a
    :class:`~mm_cbam.engine.hooks.NonFiniteStopHook` unless the config has one (configure it
    with ``stop=False`` to keep a diverging run going)."""
    checkpoint = (cfg.get('default_hooks') or {}).get('checkpoint')
    if isinstance(checkpoint, dict) and checkpoint.get('type') == 'CheckpointHook':
        checkpoint['type'] = 'FiniteCheckpointHook'
    hooks = list(cfg.get('custom_hooks') or [])
    if not any(isinstance(h, dict) and h.get('type') == 'NonFiniteStopHook' for h in hooks):
        cfg.custom_hooks = hooks + [dict(type='NonFiniteStopHook')]


def add_common_args(parser) -> None:
    """The flags mmdet's and mmseg's tools share."""
    from mmengine.config import DictAction
    parser.add_argument('--work-dir', help='the dir to save logs and models '
                        '(default: work_dirs/<config name>)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config, key=value pairs (mmdet syntax)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def build_runner(cfg):
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)
