"""Multi-process runs without GPUs (``--launcher pytorch|slurm|mpi`` on CPU-only machines).

mmengine's ``init_dist`` calls ``torch.cuda.set_device`` and its DDP wrapper passes
``device_ids=[LOCAL_RANK]``, so distributed launchers fail on CPU-only machines.
:func:`setup_cpu_distributed` initialises the process group with the gloo backend from the
launcher's environment, wraps the model in DDP without ``device_ids`` and turns SyncBN into BN
(SyncBN needs GPUs). With GPUs nothing changes: mmengine sets up NCCL as usual.
"""
import os
import subprocess

import torch


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
