"""What every command-line entry point shares: mmdet's common flags and one-line errors."""
import sys
from typing import Callable, Optional, Sequence


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


def add_model_image_args(parser) -> None:
    """The positional arguments of the tools that run a trained model on images."""
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('images', nargs='+')


def expected_errors() -> tuple:
    """Errors a user can fix (bad input, missing files): one line, no traceback, exit status 2."""
    from ..checkpoint import CheckpointLoadError
    from ..checkpoint.integrity import CheckpointError
    from ..models.checks import ConfigCheckError
    from ..optional import MissingPackageError
    from .file_checks import DataFileError
    return (FileNotFoundError, DataFileError, CheckpointError, CheckpointLoadError,
            ConfigCheckError, MissingPackageError)


def stop_errors() -> tuple:
    """A guard stopped training on purpose: one line, exit status 3."""
    from ..engine.hooks import AttentionInstabilityError, NonFiniteLossError
    return (AttentionInstabilityError, NonFiniteLossError)


def run_cli(main: Callable[[Optional[Sequence[str]]], int], argv=None,
            extra: tuple = ()) -> int:
    """``main(argv)``, with :func:`expected_errors` (and ``extra``) printed as ``ERROR: ...``
    (exit status 2) and :func:`stop_errors` as ``STOPPED: ...`` (exit status 3)."""
    try:
        return main(argv) or 0
    except expected_errors() + tuple(extra) as exc:
        print(f'ERROR: {exc}', file=sys.stderr)
        return 2
    except stop_errors() as exc:
        print(f'STOPPED: {exc}', file=sys.stderr)
        return 3
