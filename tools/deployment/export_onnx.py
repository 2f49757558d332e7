"""Export a model to ONNX (or TorchScript) and check it: ``python tools/deployment/export_onnx.py
CONFIG [CHECKPOINT] --out FILE [--verify] ...``.

A thin command line over :mod:`mm_cbam.deployment.export` (also
``python -m mm_cbam.deployment.export``).
"""
import sys

from mm_cbam.deployment.export import DeployError, main
from mm_cbam.runner.cli import run_cli

if __name__ == '__main__':
    sys.exit(run_cli(main, extra=(DeployError, )))
