"""The command lines of a study's runs, through the package's entry points: ``python -m
mm_cbam.train`` (``--launcher none``), ``torchrun -m mm_cbam.train`` (``pytorch``) and ``srun ...
python -m mm_cbam.train`` (``slurm``), so a study runs from any directory once mm_cbam is
installed and names no path inside a checkout."""
import shlex
import sys
from typing import List

from .plan import Run

GPUS_PER_NODE = 8


def slurm_layout(gpus: int) -> dict:
    """Nodes, tasks per node and GPUs per node for ``gpus`` GPUs (up to 8 per node)."""
    per_node = min(gpus, GPUS_PER_NODE)
    nodes = -(-gpus // per_node)
    return dict(nodes=nodes, per_node=per_node)


def train_command(run: Run, launcher: str = 'none', gpus: int = 1,
                  partition: str = 'PARTITION', python: str = sys.executable,
                  port: int = 29500) -> List[str]:
    """The command that trains (or resumes) ``run``."""
    entry = ['-m', 'mm_cbam.train', run.config, '--work-dir', run.work_dir]
    entry += ['--resume'] if run.status == 'resume' else []
    if launcher == 'none':
        return [python, *entry]
    if launcher == 'pytorch':
        return [python, '-m', 'torch.distributed.run', f'--nproc_per_node={gpus}',
                f'--master_port={port}', *entry, '--launcher', 'pytorch']
    layout = slurm_layout(gpus)
    job = run.key.replace('/', '_')
    return ['srun', '-p', partition, f'--job-name={job}', f'--nodes={layout["nodes"]}',
            f'--gres=gpu:{layout["per_node"]}', f'--ntasks={gpus}',
            f'--ntasks-per-node={layout["per_node"]}', '--cpus-per-task=5',
            '--kill-on-bad-exit=1', python, '-u', *entry, '--launcher', 'slurm']


def shell_line(command: List[str]) -> str:
    return ' '.join(shlex.quote(c) for c in command)
