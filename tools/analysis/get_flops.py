"""FLOPs and parameters of a model and of its attention alone:
``python tools/analysis/get_flops.py CONFIG [--shape H W] [--plain]``.

A thin command line over :mod:`mm_cbam.analysis.get_flops` (also
``python -m mm_cbam.analysis.get_flops``).
"""
import sys

from mm_cbam.analysis.get_flops import main
from mm_cbam.runner.cli import run_cli

if __name__ == '__main__':
    sys.exit(run_cli(main))
