"""Remove residual CBAM modules whose alpha is (about) 0 from a config and checkpoint:
``python tools/model_converters/fold_cbam.py CONFIG CHECKPOINT OUT_CONFIG OUT_CHECKPOINT
[--alpha-below EPS]``.

A thin command line over :mod:`mm_cbam.deployment.fold` (also
``python -m mm_cbam.deployment.fold``).
"""
import sys

from mm_cbam.deployment.fold import DeployError, main
from mm_cbam.runner.cli import run_cli

if __name__ == '__main__':
    sys.exit(run_cli(main, extra=(DeployError, )))
